use forge_domain::users::{Email, FullName, PasswordPolicy, Username};

use crate::common::{Fields, Parsed};

/// The parsed identity fields of a new account. Parsing happens here rather than in the HTTP
/// layer because the password policy depends on configuration and on the other fields, and every
/// caller (HTTP, an embedding service, a test harness) must get the same complete list of errors.
pub(crate) struct AccountDraft {
    pub email: Email,
    pub username: Username,
    pub full_name: Option<FullName>,
}

impl AccountDraft {
    /// Parses every field: the draft, or the errors of all of them (`email`, `username`,
    /// `full_name`, `password`, in that order).
    pub(crate) fn parse(
        email: &str,
        username: &str,
        password: &str,
        full_name: Option<&str>,
        policy: &PasswordPolicy,
    ) -> Parsed<Self> {
        (
            Parsed::field("email", Email::parse(email)),
            Parsed::field("username", Username::parse(username)),
            Parsed::field("full_name", full_name.map(FullName::parse).transpose()),
            check_password("password", password, username, email, policy),
        )
            .join()
            .map(|(email, username, full_name, ())| Self { email, username, full_name })
    }
}

/// Checks a new password against the policy, with the account's username and e-mail local part
/// as personal information it must not contain.
pub(crate) fn check_password(
    field: &str,
    password: &str,
    username: &str,
    email: &str,
    policy: &PasswordPolicy,
) -> Parsed<()> {
    let local = email.trim().rsplit_once('@').map_or(email.trim(), |(local, _)| local);
    Parsed::field(field, policy.check(password, &[username.trim(), local]))
}
