use forge_domain::users::{Email, FullName, PasswordPolicy, Username};

use crate::common::{FieldError, Validator};

/// The parsed identity fields of a new account. Parsing happens here rather than in the HTTP
/// layer because the password policy depends on configuration and on the other fields, and every
/// caller (HTTP, an embedding service, a test harness) must get the same complete list of errors.
pub(crate) struct AccountDraft {
    pub email: Email,
    pub username: Username,
    pub full_name: Option<FullName>,
}

impl AccountDraft {
    /// Parses every field, recording each error in `v`; `None` if any failed.
    pub(crate) fn parse(
        v: &mut Validator,
        email: &str,
        username: &str,
        password: &str,
        full_name: Option<&str>,
        policy: &PasswordPolicy,
    ) -> Option<Self> {
        let parsed_email = v.check("email", Email::parse(email));
        let parsed_username = v.check("username", Username::parse(username));
        let full_name = match full_name {
            Some(raw) => v.check("full_name", FullName::parse(raw)).map(Some),
            None => Some(None),
        };
        check_password(v, "password", password, username, email, policy);
        Some(Self { email: parsed_email?, username: parsed_username?, full_name: full_name? })
    }
}

/// Checks a new password against the policy, with the account's username and e-mail local part
/// as personal information it must not contain.
pub(crate) fn check_password(
    v: &mut Validator,
    field: &str,
    password: &str,
    username: &str,
    email: &str,
    policy: &PasswordPolicy,
) {
    let local = email.trim().rsplit_once('@').map_or(email.trim(), |(local, _)| local);
    if let Err(e) = policy.check(password, &[username.trim(), local]) {
        v.push(FieldError::from_violation(field, &e));
    }
}
