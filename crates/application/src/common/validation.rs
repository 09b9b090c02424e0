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

/// Collects every field error of a command before failing, so a client learns about all of them
/// at once.
#[derive(Debug, Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    /// An empty collector.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `result`'s error under `field` and returns its value, if any.
    pub fn check<T, E: FieldViolation>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(FieldError::from_violation(field, &e));
                None
            }
        }
    }

    /// Records an error directly.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `Ok` when nothing was recorded.
    ///
    /// # Errors
    /// Every recorded field error.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(ValidationErrors(self.0)) }
    }
}
