//! Bounded text: the one set of rules behind every free-text value object (a person's name, a
//! project's name and description, an API key's name): trimmed, 1 to a maximum of characters
//! (not bytes), no control characters, or, in prose, none but line breaks and tabs.
//!
//! Each of those types keeps its own error enum, so its messages can name its own limit; this
//! module only decides which rule a string breaks, and [`bounded_text_error!`] gives every such
//! enum the same conversion and the same stable codes.

/// The rules one kind of free text follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoundedText {
    /// The most characters after trimming.
    max_chars: usize,
    /// Whether line breaks (`\n`, `\r`) and tabs are allowed, as in prose.
    line_breaks: bool,
}

/// The first rule a string breaks, checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextViolation {
    /// A control character the rules refuse.
    ControlCharacter,
    /// Nothing left after trimming.
    Blank,
    /// More characters than the rules allow.
    TooLong,
}

impl BoundedText {
    /// One line of at most `max_chars` characters: no control character at all.
    pub(crate) const fn line(max_chars: usize) -> Self {
        Self { max_chars, line_breaks: false }
    }

    /// Prose of at most `max_chars` characters: line breaks and tabs are allowed.
    pub(crate) const fn prose(max_chars: usize) -> Self {
        Self { max_chars, line_breaks: true }
    }

    /// Whether `c` is a control character these rules refuse.
    fn refuses(self, c: char) -> bool {
        c.is_control() && !(self.line_breaks && matches!(c, '\n' | '\r' | '\t'))
    }

    /// The trimmed text.
    ///
    /// # Errors
    /// The first [`TextViolation`] found.
    pub(crate) fn parse(self, raw: &str) -> Result<String, TextViolation> {
        let candidate = raw.trim();
        if candidate.chars().any(|c| self.refuses(c)) {
            return Err(TextViolation::ControlCharacter);
        }
        if candidate.is_empty() {
            return Err(TextViolation::Blank);
        }
        if candidate.chars().count() > self.max_chars {
            return Err(TextViolation::TooLong);
        }
        Ok(candidate.to_owned())
    }
}

/// Implements, for an error enum with the variants `Blank`, `TooLong` and `ControlCharacter`,
/// `From<TextViolation>` and [`FieldViolation`](crate::FieldViolation) with the codes every
/// bounded text shares: `REQUIRED`, `TOO_LONG` and `INVALID_CHARACTER`.
macro_rules! bounded_text_error {
    ($error:ty) => {
        impl From<$crate::text::TextViolation> for $error {
            fn from(violation: $crate::text::TextViolation) -> Self {
                match violation {
                    $crate::text::TextViolation::ControlCharacter => Self::ControlCharacter,
                    $crate::text::TextViolation::Blank => Self::Blank,
                    $crate::text::TextViolation::TooLong => Self::TooLong,
                }
            }
        }

        impl $crate::FieldViolation for $error {
            fn code(&self) -> &'static str {
                match self {
                    Self::Blank => "REQUIRED",
                    Self::TooLong => "TOO_LONG",
                    Self::ControlCharacter => "INVALID_CHARACTER",
                }
            }
        }
    };
}

pub(crate) use bounded_text_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_before_blanks_and_lengths() {
        assert_eq!(BoundedText::line(3).parse(" \u{0}  "), Err(TextViolation::ControlCharacter));
        assert_eq!(BoundedText::line(3).parse(" \u{a0} "), Err(TextViolation::Blank));
        assert_eq!(BoundedText::line(3).parse(" abcd "), Err(TextViolation::TooLong));
        assert_eq!(BoundedText::line(3).parse(" abc ").as_deref(), Ok("abc"));
    }

    #[test]
    fn only_prose_keeps_line_breaks_and_tabs() {
        assert_eq!(BoundedText::line(10).parse("a\nb"), Err(TextViolation::ControlCharacter));
        assert_eq!(BoundedText::prose(10).parse("a\r\n\tb").as_deref(), Ok("a\r\n\tb"));
        assert_eq!(BoundedText::prose(10).parse("a\u{7}b"), Err(TextViolation::ControlCharacter));
    }
}
