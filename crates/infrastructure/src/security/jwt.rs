//! Access tokens as HS256-signed JWTs.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use forge_application::{
    UnexpectedError,
    auth::ports::{AccessClaims, AccessTokenError, AccessTokens, IssuedAccessToken},
};
use forge_domain::{sessions::SessionId, users::UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `typ` claim of an access token, so that no other JWT signed with the same key (a future
/// e-mail verification token, say) can be used as one.
const ACCESS_TYPE: &str = "access";

/// Tolerance for clocks of different instances that disagree slightly.
const LEEWAY_SECONDS: i64 = 5;

/// [`AccessTokens`] as JWTs signed with HMAC-SHA256.
///
/// Only HS256 is accepted when verifying (never `none`, never an asymmetric algorithm that
/// could be confused with the shared secret). Signature, algorithm, issuer, audience, type and
/// the presence of `exp`, `iat` and `sub` are checked by `jsonwebtoken`; expiry is judged here,
/// against the `now` the caller passes, so that tests can move time.
pub struct JwtAccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    /// Tokens whose signature and claims were checked, by their exact text, with their claims:
    /// a client sends the same access token with every request for its lifetime, and checking
    /// the signature and parsing the claims again was most of what authenticating it cost. Only
    /// valid tokens enter; expiry is checked on every use; an entry leaves once its token could
    /// have expired, or to stay within [`REMEMBERED_BYTES`].
    verified: moka::sync::Cache<String, AccessClaims>,
}

/// The most memory the remembered tokens take, counted as each token's length plus
/// [`ENTRY_OVERHEAD_BYTES`]: about 8,000 of Forge's tokens (some 370 characters each).
const REMEMBERED_BYTES: u64 = 4 * 1024 * 1024;

/// What one remembered token costs beyond its text: its claims and the cache's bookkeeping.
const ENTRY_OVERHEAD_BYTES: u32 = 160;

#[derive(Serialize)]
struct OutgoingClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    iat: i64,
    exp: i64,
    typ: &'a str,
}

/// What is read back; `iss` and `aud` were checked by the validation already.
#[derive(Deserialize)]
struct IncomingClaims {
    sub: String,
    sid: String,
    jti: String,
    iat: i64,
    exp: i64,
    typ: String,
}

impl JwtAccessTokens {
    /// Tokens signed with `secret`, naming `issuer` and `audience`, valid for `ttl`.
    ///
    /// The secret's strength is the configuration's business (at least 32 random bytes).
    #[must_use]
    pub fn new(secret: &[u8], issuer: String, audience: String, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        // Expiry is judged against the injected clock in `verify`; `nbf` is never issued.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer,
            audience,
            ttl,
            verified: moka::sync::Cache::builder()
                .max_capacity(REMEMBERED_BYTES)
                .weigher(|token: &String, _: &AccessClaims| {
                    u32::try_from(token.len()).unwrap_or(u32::MAX).saturating_add(ENTRY_OVERHEAD_BYTES)
                })
                .time_to_live(
                    (ttl + Duration::seconds(LEEWAY_SECONDS)).to_std().unwrap_or(std::time::Duration::from_secs(900)),
                )
                .build(),
        }
    }
}

impl fmt::Debug for JwtAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAccessTokens")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AccessTokens for JwtAccessTokens {
    fn issue(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, UnexpectedError> {
        let issued_at = now.timestamp();
        let claims = OutgoingClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: user_id.as_uuid(),
            sid: session_id.as_uuid(),
            jti: Uuid::new_v4(),
            iat: issued_at,
            exp: issued_at + self.ttl.num_seconds(),
            typ: ACCESS_TYPE,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(UnexpectedError::internal)?;
        Ok(IssuedAccessToken { token: SecretString::from(token), expires_in: self.ttl.num_seconds() })
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AccessTokenError> {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.check(token)?;
                // Only a token that is not expired yet is remembered (and expiry is checked below
                // on every use, remembered or not).
                if now < claims.expires_at {
                    self.verified.insert(token.to_owned(), claims.clone());
                }
                claims
            }
        };
        // Expired once `now` reaches `exp` (plus the leeway), as RFC 7519 reads.
        if now.timestamp() >= claims.expires_at.timestamp().saturating_add(LEEWAY_SECONDS) {
            return Err(AccessTokenError::Expired);
        }
        Ok(claims)
    }
}

impl JwtAccessTokens {
    /// How many verified tokens are remembered now.
    #[must_use]
    pub fn remembered(&self) -> u64 {
        self.verified.run_pending_tasks();
        self.verified.entry_count()
    }

    /// The signature, audience, issuer and type of `token`, and its claims.
    fn check(&self, token: &str) -> Result<AccessClaims, AccessTokenError> {
        let claims = jsonwebtoken::decode::<IncomingClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| AccessTokenError::Invalid)?
            .claims;
        if claims.typ != ACCESS_TYPE {
            return Err(AccessTokenError::Invalid);
        }
        let parse = |raw: &str| Uuid::parse_str(raw).map_err(|_| AccessTokenError::Invalid);
        let user_id = UserId::from_uuid(parse(&claims.sub)?);
        let session_id = SessionId::from(parse(&claims.sid)?);
        let token_id = parse(&claims.jti)?;
        let instant = |secs: i64| DateTime::from_timestamp(secs, 0).ok_or(AccessTokenError::Invalid);
        let issued_at = instant(claims.iat)?;
        let expires_at = instant(claims.exp)?;
        Ok(AccessClaims { user_id, session_id, token_id, issued_at, expires_at })
    }
}
