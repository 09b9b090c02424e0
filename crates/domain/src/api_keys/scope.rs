use std::{collections::BTreeSet, fmt, str::FromStr};

use crate::FieldViolation;

/// What an API key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiKeyScope {
    /// Requests that only read: `GET`, `HEAD`, `OPTIONS`.
    Read,
    /// Requests that change something: every other method.
    Write,
}

/// What a request intends to do, as far as API-key scopes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessIntent {
    /// Reads only.
    Read,
    /// Changes something.
    Write,
}

impl ApiKeyScope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Self; 2] = [Self::Read, Self::Write];

    /// The stable lower-case name used in storage and in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// The scope a request with this intent needs.
    #[must_use]
    pub const fn needed_for(intent: AccessIntent) -> Self {
        match intent {
            AccessIntent::Read => Self::Read,
            AccessIntent::Write => Self::Write,
        }
    }
}

impl fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a list of scope names is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A name that is not `read` or `write`.
    #[error("must be one of: read, write")]
    Unknown,
    /// No scope at all: the key could do nothing.
    #[error("must name at least one scope")]
    Empty,
}

impl FieldViolation for ScopeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unknown => "INVALID_CHOICE",
            Self::Empty => "TOO_SHORT",
        }
    }
}

impl FromStr for ApiKeyScope {
    type Err = ScopeError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err(ScopeError::Unknown),
        }
    }
}

/// The non-empty set of scopes of a key. Each scope grants exactly its own kind of request:
/// `write` alone lets a key change things but not read them (a push-only key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyScopes(BTreeSet<ApiKeyScope>);

impl ApiKeyScopes {
    /// Both scopes: what a key gets when none are asked for.
    #[must_use]
    pub fn all() -> Self {
        Self(ApiKeyScope::ALL.into_iter().collect())
    }

    /// Parses scope names; repeated names count once.
    ///
    /// # Errors
    /// [`ScopeError::Unknown`] for a name that is not a scope, [`ScopeError::Empty`] for none.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopeError> {
        let scopes = names.into_iter().map(str::parse).collect::<Result<BTreeSet<ApiKeyScope>, _>>()?;
        if scopes.is_empty() { Err(ScopeError::Empty) } else { Ok(Self(scopes)) }
    }

    /// Whether the set holds `scope`.
    #[must_use]
    pub fn contains(&self, scope: ApiKeyScope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether a request with `intent` is within these scopes.
    #[must_use]
    pub fn allow(&self, intent: AccessIntent) -> bool {
        self.contains(ApiKeyScope::needed_for(intent))
    }

    /// The scopes, `read` before `write`.
    pub fn iter(&self) -> impl Iterator<Item = ApiKeyScope> + '_ {
        self.0.iter().copied()
    }

    /// The names, `read` before `write`.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_a_set_and_duplicates_count_once() {
        let scopes = ApiKeyScopes::parse(["write", "read", "write"]).unwrap();
        assert_eq!(scopes.names(), ["read", "write"]);
        assert_eq!(scopes, ApiKeyScopes::all());
    }

    #[test]
    fn unknown_names_and_empty_lists_are_refused_with_their_codes() {
        assert_eq!(ApiKeyScopes::parse(["read", "admin"]), Err(ScopeError::Unknown));
        assert_eq!(ApiKeyScopes::parse(["Read"]), Err(ScopeError::Unknown));
        assert_eq!(ApiKeyScopes::parse([]), Err(ScopeError::Empty));
        assert_eq!(ScopeError::Unknown.code(), "INVALID_CHOICE");
        assert_eq!(ScopeError::Empty.code(), "TOO_SHORT");
    }

    #[test]
    fn each_scope_allows_exactly_its_own_intent() {
        let read = ApiKeyScopes::parse(["read"]).unwrap();
        assert!(read.allow(AccessIntent::Read));
        assert!(!read.allow(AccessIntent::Write));
        let write = ApiKeyScopes::parse(["write"]).unwrap();
        assert!(write.allow(AccessIntent::Write));
        assert!(!write.allow(AccessIntent::Read));
        let both = ApiKeyScopes::all();
        assert!(both.allow(AccessIntent::Read) && both.allow(AccessIntent::Write));
    }
}
