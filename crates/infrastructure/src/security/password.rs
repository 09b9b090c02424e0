//! Password hashing with argon2id.

use std::fmt;

use argon2::{
    Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::{self, phc},
};
use async_trait::async_trait;
use forge_application::{UnexpectedError, auth::ports::PasswordHasher};
use forge_domain::users::PasswordHash;
use secrecy::{ExposeSecret, SecretString};
use tracing::Span;

/// A fixed salt for the dummy hash only: that hash protects no password, it exists so that
/// verifying against it costs what a real verification costs.
const DUMMY_SALT: &[u8] = b"forge-dummy-salt";
const DUMMY_PASSWORD: &[u8] = b"forge-dummy-password";

/// [`PasswordHasher`] with argon2id (version 0x13), a fresh random salt per hash and PHC string
/// output, so the parameters travel with each hash and can be raised without invalidating
/// stored ones.
///
/// Hashing and verification are CPU-bound (tens of milliseconds by design) and run on tokio's
/// blocking pool, inside the caller's tracing span.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    dummy_hash: String,
}

impl Argon2Hasher {
    /// A hasher with the given cost parameters.
    ///
    /// # Errors
    /// When argon2 refuses the parameters (the dummy hash is computed here, so a bad
    /// configuration fails at start-up rather than at the first login).
    pub fn new(params: Params) -> Result<Self, password_hash::Error> {
        let dummy_hash = argon2id(params.clone()).hash_password_with_salt(DUMMY_PASSWORD, DUMMY_SALT)?.to_string();
        Ok(Self { params, dummy_hash })
    }

    /// The OWASP recommendation for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
    #[must_use]
    pub fn owasp() -> Self {
        // `Params::DEFAULT` is exactly m=19456 KiB, t=2, p=1 (checked by a test), and a constant
        // 16-byte salt is valid, so this cannot fail.
        #[allow(clippy::expect_used)]
        Self::new(Params::DEFAULT).expect("the OWASP argon2id parameters are valid")
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, UnexpectedError> {
        let argon2 = argon2id(self.params.clone());
        let span = Span::current();
        let phc = tokio::task::spawn_blocking(move || {
            span.in_scope(|| argon2.hash_password(password.expose_secret().as_bytes()).map(|hash| hash.to_string()))
        })
        .await
        .map_err(UnexpectedError::internal)?
        .map_err(UnexpectedError::internal)?;
        Ok(PasswordHash::new(phc))
    }

    /// Spreads the passwords over as many blocking threads as the machine has cores (each thread
    /// hashes its share one after the other), so a bulk creation uses every core but cannot take
    /// the whole blocking pool, and never runs on the async workers.
    async fn hash_many(&self, passwords: Vec<SecretString>) -> Result<Vec<PasswordHash>, UnexpectedError> {
        let count = passwords.len();
        let lanes = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, count.max(1));
        let mut shares: Vec<Vec<(usize, SecretString)>> = (0..lanes).map(|_| Vec::new()).collect();
        for (i, password) in passwords.into_iter().enumerate() {
            shares[i % lanes].push((i, password));
        }
        let span = Span::current();
        let tasks: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let (argon2, span) = (argon2id(self.params.clone()), span.clone());
                tokio::task::spawn_blocking(move || {
                    span.in_scope(|| {
                        share
                            .into_iter()
                            .map(|(i, password)| {
                                argon2
                                    .hash_password(password.expose_secret().as_bytes())
                                    .map(|hash| (i, PasswordHash::new(hash.to_string())))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
            })
            .collect();
        let mut hashes: Vec<Option<PasswordHash>> = (0..count).map(|_| None).collect();
        for task in tasks {
            for (i, hash) in task.await.map_err(UnexpectedError::internal)?.map_err(UnexpectedError::internal)? {
                hashes[i] = Some(hash);
            }
        }
        hashes
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| UnexpectedError::internal("a password was left unhashed"))
    }

    async fn verify(&self, password: SecretString, hash: Option<PasswordHash>) -> Result<bool, UnexpectedError> {
        let dummy = self.dummy_hash.clone();
        let span = Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| match hash {
                Some(stored) => verify_stored(password.expose_secret().as_bytes(), stored.expose(), &dummy),
                None => {
                    // Unknown account: do the same work, then refuse.
                    verify_phc(password.expose_secret().as_bytes(), &dummy).map(|_| false)
                }
            })
        })
        .await
        .map_err(UnexpectedError::internal)?
    }
}

fn verify_stored(password: &[u8], stored: &str, dummy: &str) -> Result<bool, UnexpectedError> {
    match phc::PasswordHash::new(stored) {
        Ok(parsed) => match check(password, &parsed) {
            Err(CheckError::Unusable(e)) => {
                tracing::error!(error = %e, "a stored password hash cannot be verified; refusing the password");
                verify_phc(password, dummy).map(|_| false)
            }
            Ok(matches) => Ok(matches),
            Err(CheckError::Failed(e)) => Err(e),
        },
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is not a valid PHC string; refusing the password");
            // Same cost as a real verification, so a corrupt row does not stand out by timing.
            verify_phc(password, dummy).map(|_| false)
        }
    }
}

fn verify_phc(password: &[u8], phc: &str) -> Result<bool, UnexpectedError> {
    let parsed = phc::PasswordHash::new(phc).map_err(UnexpectedError::internal)?;
    match check(password, &parsed) {
        Ok(matches) => Ok(matches),
        Err(CheckError::Unusable(e)) => Err(UnexpectedError::internal(e)),
        Err(CheckError::Failed(e)) => Err(e),
    }
}

/// Why a verification produced no yes-or-no answer.
enum CheckError {
    /// The hash names an algorithm, version or parameters argon2 refuses: bad data.
    Unusable(password_hash::Error),
    /// The computation itself failed: a fault worth a 500.
    Failed(UnexpectedError),
}

fn check(password: &[u8], hash: &phc::PasswordHash) -> Result<bool, CheckError> {
    // The parameters, salt and algorithm come from the hash itself, not from this instance.
    match Argon2::default().verify_password(password, hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(
            e @ (password_hash::Error::OutOfMemory
            | password_hash::Error::Internal
            | password_hash::Error::Crypto
            | password_hash::Error::RngFailure),
        ) => Err(CheckError::Failed(UnexpectedError::internal(e))),
        Err(e) => Err(CheckError::Unusable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parameters_are_the_owasp_ones() {
        let params = Params::DEFAULT;
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
        assert!(Argon2Hasher::owasp().dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
