//! The shape shared by every parse error: a stable machine-readable code and a human message.

/// Implemented by every value-object parse error, so that callers can report each bad field with a
/// stable code (`TOO_SHORT`, `INVALID_FORMAT`, ...) without knowing the concrete error type.
pub trait FieldViolation: std::error::Error {
    /// A stable, upper-case, machine-readable code for this violation.
    fn code(&self) -> &'static str;
}
