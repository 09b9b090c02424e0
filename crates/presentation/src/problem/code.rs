//! The stable, machine-readable error codes of the API: one table, from which the status, the
//! `code` string, the title and the meaning of each are read (and the OpenAPI document lists
//! them all).

use actix_web::http::StatusCode;

macro_rules! problem_codes {
    ($($name:ident = $code:literal, $status:ident, $title:literal, $meaning:literal;)*) => {
        /// The stable, machine-readable error codes of the API (see `docs/api.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $(
                #[doc = $meaning]
                $name,
            )*
        }

        impl ProblemCode {
            /// Every code, in the order of the table.
            pub const ALL: &[Self] = &[$(Self::$name),*];

            /// The HTTP status this code is sent with.
            #[must_use]
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$name => StatusCode::$status,)*
                }
            }

            /// The code as it appears in the `code` field, e.g. `VALIDATION_FAILED`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $code,)*
                }
            }

            /// A short, human-readable summary that does not change from occurrence to
            /// occurrence.
            #[must_use]
            pub const fn title(self) -> &'static str {
                match self {
                    $(Self::$name => $title,)*
                }
            }

            /// When the code is sent.
            #[must_use]
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$name => $meaning,)*
                }
            }
        }
    };
}

problem_codes! {
    MalformedRequest = "MALFORMED_REQUEST", BAD_REQUEST, "Malformed request",
        "400: the body is not valid JSON, a field has the wrong type, bad query syntax.";
    Unauthenticated = "UNAUTHENTICATED", UNAUTHORIZED, "Authentication required",
        "401: no credentials, or credentials that do not authenticate.";
    InvalidTicket = "INVALID_TICKET", UNAUTHORIZED, "Invalid WebSocket ticket",
        "401: the WebSocket ticket is unknown, used, expired, or its session has ended.";
    InvalidCredentials = "INVALID_CREDENTIALS", UNAUTHORIZED, "Invalid credentials",
        "401: login with a wrong identifier or password.";
    TokenExpired = "TOKEN_EXPIRED", UNAUTHORIZED, "Token expired",
        "401: the token is past its expiry.";
    TokenRevoked = "TOKEN_REVOKED", UNAUTHORIZED, "Token revoked",
        "401: the token's session was ended.";
    Forbidden = "FORBIDDEN", FORBIDDEN, "Forbidden",
        "403: authenticated but not allowed.";
    AccountDisabled = "ACCOUNT_DISABLED", FORBIDDEN, "Account disabled",
        "403: the account is disabled.";
    EmailNotVerified = "EMAIL_NOT_VERIFIED", FORBIDDEN, "E-mail address not verified",
        "403: the e-mail address must be verified first.";
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED", FORBIDDEN, "Origin not allowed",
        "403: a WebSocket was opened from a page whose `Origin` is not an allowed origin.";
    NotFound = "NOT_FOUND", NOT_FOUND, "Not found",
        "404: no such resource, or it is soft-deleted.";
    MethodNotAllowed = "METHOD_NOT_ALLOWED", METHOD_NOT_ALLOWED, "Method not allowed",
        "405: the path exists but not with this method.";
    EmailTaken = "EMAIL_TAKEN", CONFLICT, "E-mail address taken",
        "409: the e-mail address belongs to another account.";
    UsernameTaken = "USERNAME_TAKEN", CONFLICT, "Username taken",
        "409: the username belongs to another account.";
    SelfDemotion = "SELF_DEMOTION", CONFLICT, "Admins cannot demote themselves",
        "409: an admin tried to change its own role or deactivate itself.";
    SelfDeletion = "SELF_DELETION", CONFLICT, "Admins cannot delete themselves",
        "409: an admin tried to delete its own account.";
    NotDeleted = "NOT_DELETED", CONFLICT, "Not deleted",
        "409: only a deleted user can be restored.";
    ProjectNameTaken = "PROJECT_NAME_TAKEN", CONFLICT, "Project name taken",
        "409: the owner already has a live project with this name (ignoring case).";
    AlreadyMember = "ALREADY_MEMBER", CONFLICT, "Already a member",
        "409: the user already is a member of the project.";
    OwnerCannotLeave = "OWNER_CANNOT_LEAVE", CONFLICT, "The owner cannot leave",
        "409: the owner cannot be removed from the project or leave it; transfer the project first.";
    OwnerCannotBeDemoted = "OWNER_CANNOT_BE_DEMOTED", CONFLICT, "The owner cannot be demoted",
        "409: the owner's role cannot be changed; transfer the project instead.";
    AlreadyOwner = "ALREADY_OWNER", CONFLICT, "Already the owner",
        "409: the project is transferred to the member who already owns it.";
    ConcurrentUpdate = "CONCURRENT_UPDATE", CONFLICT, "Concurrent update",
        "409: the resource changed while the request was handled (a request without `If-Match` lost \
         a race); nothing changed, and retrying may succeed.";
    Conflict = "CONFLICT", CONFLICT, "Conflict",
        "409: the request conflicts with the state of the server (an `Idempotency-Key` whose first \
         request still runs).";
    PreconditionFailed = "PRECONDITION_FAILED", PRECONDITION_FAILED, "Precondition failed",
        "412: `If-Match` names a version the resource is no longer at (or a conditional write lost a \
         race); nothing changed.";
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", PAYLOAD_TOO_LARGE, "Payload too large",
        "413: the body is over the configured limit.";
    UriTooLong = "URI_TOO_LONG", URI_TOO_LONG, "URI too long",
        "414: the path and query string are over 8 KiB.";
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "415: the body is not of a media type the endpoint accepts.";
    ValidationFailed = "VALIDATION_FAILED", UNPROCESSABLE_ENTITY, "Validation failed",
        "422: well-formed, but values break the rules; every bad field is listed.";
    RateLimited = "RATE_LIMITED", TOO_MANY_REQUESTS, "Too many requests",
        "429: too many requests.";
    AccountLocked = "ACCOUNT_LOCKED", TOO_MANY_REQUESTS, "Account locked",
        "429: repeated failed logins locked the account.";
    TooManyConnections = "TOO_MANY_CONNECTIONS", TOO_MANY_REQUESTS, "Too many connections",
        "429: the user already has as many WebSocket connections to this instance as it may.";
    Internal = "INTERNAL", INTERNAL_SERVER_ERROR, "Internal error",
        "500: a bug; quote the request id when reporting it.";
    ServiceUnavailable = "SERVICE_UNAVAILABLE", SERVICE_UNAVAILABLE, "Service unavailable",
        "503: a dependency is down; retry after `Retry-After` seconds.";
    ServerBusy = "SERVER_BUSY", SERVICE_UNAVAILABLE, "Server busy",
        "503: the password-hashing queue is full (login, registration, password change); nothing changed; \
         retry after `Retry-After` seconds.";
    ConnectionsFull = "CONNECTIONS_FULL", SERVICE_UNAVAILABLE, "Connections full",
        "503: this instance holds as many WebSocket connections as it may; retry after `Retry-After` seconds \
         (or on another instance).";
    Timeout = "TIMEOUT", GATEWAY_TIMEOUT, "Timeout",
        "504: the request ran past the server's time limit.";
}

impl ProblemCode {
    /// The `type` URI: `/problems/` and the code in kebab case.
    #[must_use]
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str().to_ascii_lowercase().replace('_', "-"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_unique_upper_snake_case_and_states_its_status_first() {
        let mut seen = HashSet::new();
        for code in ProblemCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(code.as_str().chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{}", code.as_str());
            assert!(code.meaning().starts_with(&format!("{}:", code.status().as_u16())), "{code:?}");
        }
        assert_eq!(ProblemCode::OwnerCannotLeave.type_uri(), "/problems/owner-cannot-leave");
    }
}
