use std::fmt;

use forge_domain::FieldViolation;

/// One bad field: its name as the client sent it, a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, or `items[3].email` inside arrays.
    pub field: String,
    /// A stable machine-readable code, e.g. `TOO_SHORT`.
    pub code: &'static str,
    /// A human-readable sentence fragment, e.g. `must be at least 8 characters`.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }

    /// A field error from a domain parse error.
    pub fn from_violation(field: impl Into<String>, violation: &dyn FieldViolation) -> Self {
        Self::new(field, violation.code(), violation.to_string())
    }
}

/// Every bad field of a request; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// Wraps a list of field errors.
    #[must_use]
    pub const fn new(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }

    /// One bad field.
    pub fn single(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }

    /// The bad fields.
    #[must_use]
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Consumes the list.
    #[must_use]
    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => f.write_str("1 field is invalid"),
            n => write!(f, "{n} fields are invalid"),
        }
    }
}

impl std::error::Error for ValidationErrors {}

/// One field's outcome: the value it parsed to, or every error found in it.
///
/// A value and its errors travel together, so there is no state in which validation passed but a
/// value is missing: a command's fields are finished together ([`Fields::finish`]), which yields
/// every value when none failed, and otherwise every error at once, in the order of the fields,
/// so a client learns about all of them in one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Parsed<T>(Result<T, Vec<FieldError>>);

impl<T> Parsed<T> {
    /// The outcome of parsing `field`: its value, or its error under the field's name.
    pub fn field<E: FieldViolation>(field: &str, result: Result<T, E>) -> Self {
        Self(result.map_err(|e| vec![FieldError::from_violation(field, &e)]))
    }

    /// A value that needed no parsing, such as the default of a field left out.
    pub const fn valid(value: T) -> Self {
        Self(Ok(value))
    }

    /// A refused field.
    pub fn invalid(error: FieldError) -> Self {
        Self(Err(vec![error]))
    }

    /// The value, if the field parsed: for a rule that depends on another field's value before
    /// the command is finished.
    #[must_use]
    pub fn value(&self) -> Option<&T> {
        self.0.as_ref().ok()
    }

    /// Maps the value, keeping the errors.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed(self.0.map(f))
    }

    /// The value, or the field's errors.
    ///
    /// # Errors
    /// Every error recorded for the field.
    pub fn finish(self) -> Result<T, ValidationErrors> {
        self.0.map_err(ValidationErrors)
    }
}

/// A tuple of [`Parsed`] fields, finished together: every value, or the errors of all the fields
/// that failed, in the order of the tuple.
pub trait Fields {
    /// The tuple of the fields' values.
    type Values;

    /// Joins the fields into one: every value, or every error.
    fn join(self) -> Parsed<Self::Values>;

    /// Every value when no field failed.
    ///
    /// # Errors
    /// Every error of every field, in the order of the tuple.
    fn finish(self) -> Result<Self::Values, ValidationErrors>
    where
        Self: Sized,
    {
        self.join().finish()
    }
}

/// Implements [`Fields`] for a tuple of `Parsed` of the given arity.
macro_rules! fields_for_tuple {
    ($($value:ident: $ty:ident),+) => {
        impl<$($ty),+> Fields for ($(Parsed<$ty>,)+) {
            type Values = ($($ty,)+);

            fn join(self) -> Parsed<Self::Values> {
                let ($($value,)+) = self;
                match ($($value.0,)+) {
                    ($(Ok($value),)+) => Parsed(Ok(($($value,)+))),
                    ($($value,)+) => {
                        let mut errors = Vec::new();
                        $(errors.extend($value.err().into_iter().flatten());)+
                        Parsed(Err(errors))
                    }
                }
            }
        }
    };
}

fields_for_tuple!(a: A, b: B);
fields_for_tuple!(a: A, b: B, c: C);
fields_for_tuple!(a: A, b: B, c: C, d: D);
fields_for_tuple!(a: A, b: B, c: C, d: D, e: E);
fields_for_tuple!(a: A, b: B, c: C, d: D, e: E, f: F);

#[cfg(test)]
mod tests {
    use super::*;

    fn too_long(field: &str) -> FieldError {
        FieldError::new(field, "TOO_LONG", "must be shorter")
    }

    #[test]
    fn finished_fields_yield_every_value_when_none_failed() {
        let fields = (Parsed::valid("ada"), Parsed::valid(Some(36)), Parsed::<()>::valid(()));
        assert_eq!(fields.finish(), Ok(("ada", Some(36), ())));
    }

    #[test]
    fn finished_fields_list_every_error_in_the_order_of_the_fields() {
        let fields = (
            Parsed::<&str>::invalid(too_long("name")),
            Parsed::valid(1),
            (Parsed::<u8>::invalid(too_long("a")), Parsed::<u8>::invalid(too_long("b"))).join(),
        );
        let errors = fields.finish().unwrap_err();
        let names: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["name", "a", "b"]);
    }

    #[test]
    fn a_field_keeps_its_value_for_rules_that_depend_on_it() {
        let parsed = Parsed::valid(3).map(|n| n * 2);
        assert_eq!(parsed.value(), Some(&6));
        assert_eq!(Parsed::<u8>::invalid(too_long("n")).value(), None);
    }
}
