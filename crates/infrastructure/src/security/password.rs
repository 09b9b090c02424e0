//! Password hashing with argon2id, on the bounded [`HashingPool`].

use std::{collections::VecDeque, fmt};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{
        self,
        phc::{self, Output, ParamsString, Salt},
    },
};
use async_trait::async_trait;
use forge_application::{UnexpectedError, auth::ports::PasswordHasher};
use forge_domain::users::PasswordHash;
use secrecy::{ExposeSecret, SecretString};

use super::hashing_pool::{HashMemory, HashingPool, HashingPoolSettings, HashingPoolStats, PoolError, Ticket};

/// A fixed salt for the dummy verification only: it protects no password, it exists so that
/// refusing an unknown account costs what verifying a real password costs.
const DUMMY_SALT: &[u8] = b"forge-dummy-salt";

/// [`PasswordHasher`] with argon2id (version 0x13), a fresh random salt per hash and PHC string
/// output, so the parameters travel with each hash and can be raised without invalidating
/// stored ones.
///
/// Hashing and verification are CPU-bound (tens of milliseconds by design) and run on a
/// [`HashingPool`]: a fixed number of threads, each reusing one memory block, behind a bounded
/// queue. When the queue is full, `hash`, `hash_many` and `verify` fail at once with a `Busy`
/// error (503 `SERVER_BUSY` over HTTP) before anything is hashed.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    pool: HashingPool,
}

impl Argon2Hasher {
    /// A hasher with the given cost parameters (valid by construction) on a new pool with `pool`
    /// settings.
    ///
    /// # Errors
    /// When the pool settings are out of range or the threads do not start.
    pub fn new(params: Params, pool: HashingPoolSettings) -> Result<Self, std::io::Error> {
        let pool = HashingPool::start(pool, params.block_count())?;
        Ok(Self { params, pool })
    }

    /// The OWASP recommendation for argon2id (19 MiB of memory, 2 iterations, 1 lane) on a new
    /// pool with `pool` settings.
    ///
    /// # Errors
    /// As [`Argon2Hasher::new`].
    pub fn owasp(pool: HashingPoolSettings) -> Result<Self, std::io::Error> {
        // `Params::DEFAULT` is exactly m=19456 KiB, t=2, p=1 (checked by a test).
        Self::new(Params::DEFAULT, pool)
    }

    /// What the hashing pool has done so far.
    #[must_use]
    pub fn stats(&self) -> HashingPoolStats {
        self.pool.stats()
    }

    /// Queues the hash of one password.
    fn submit_hash(&self, password: SecretString) -> Result<Ticket<Result<String, HashError>>, PoolError> {
        let params = self.params.clone();
        self.pool.submit(move |memory| hash_phc(&params, password.expose_secret().as_bytes(), memory))
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .field("pool", &self.pool)
            .finish()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, UnexpectedError> {
        let phc = self.submit_hash(password)?.answer().await?.map_err(UnexpectedError::internal)?;
        Ok(PasswordHash::new(phc))
    }

    /// Feeds the passwords to the pool a few at a time (as many as it has threads), so that a
    /// bulk creation keeps every thread busy but leaves the rest of the queue to logins, which
    /// interleave with it. When the queue is full the call waits for one of its own hashes to
    /// finish and tries again; with none of its own left to wait for it fails `Busy`, like any
    /// other caller, and returns no hash.
    async fn hash_many(&self, passwords: Vec<SecretString>) -> Result<Vec<PasswordHash>, UnexpectedError> {
        let window = self.pool.threads().max(1);
        let mut hashes = Vec::with_capacity(passwords.len());
        let mut running: VecDeque<Ticket<Result<String, HashError>>> = VecDeque::with_capacity(window);
        for password in passwords {
            loop {
                if running.len() < window {
                    match self.submit_hash(password.clone()) {
                        Ok(ticket) => {
                            running.push_back(ticket);
                            break;
                        }
                        Err(PoolError::Busy { .. }) if !running.is_empty() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if let Some(oldest) = running.pop_front() {
                    hashes.push(PasswordHash::new(oldest.answer().await?.map_err(UnexpectedError::internal)?));
                }
            }
        }
        for ticket in running {
            hashes.push(PasswordHash::new(ticket.answer().await?.map_err(UnexpectedError::internal)?));
        }
        Ok(hashes)
    }

    async fn verify(&self, password: SecretString, hash: Option<PasswordHash>) -> Result<bool, UnexpectedError> {
        let params = self.params.clone();
        self.pool
            .run(move |memory| {
                let password = password.expose_secret().as_bytes();
                match hash {
                    Some(stored) => verify_stored(password, stored.expose(), &params, memory),
                    // Unknown account: do the same work, then refuse.
                    None => dummy(password, &params, memory).map(|()| false),
                }
            })
            .await?
    }
}

/// Why hashing failed: a fault worth a 500 (the OS random generator, memory, or parameters that
/// passed the checks at start-up after all).
#[derive(Debug, thiserror::Error)]
enum HashError {
    #[error("argon2: {0}")]
    Argon2(#[from] argon2::Error),
    #[error("PHC string: {0}")]
    Phc(#[from] phc::Error),
    #[error("{0}")]
    PasswordHash(#[from] password_hash::Error),
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

/// The argon2id hash of `password` with a fresh salt, as a PHC string.
fn hash_phc(params: &Params, password: &[u8], memory: &mut HashMemory) -> Result<String, HashError> {
    let salt = password_hash::try_generate_salt().map_err(|e| HashError::Random(e.to_string()))?;
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let output = buffer
        .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
        .ok_or(HashError::Argon2(argon2::Error::OutputTooLong))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, &salt, &mut *output, blocks)
    })??;
    let phc = phc::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(output)?),
    };
    Ok(phc.to_string())
}

/// The work of a verification with the configured parameters, whose result is thrown away.
fn dummy(password: &[u8], params: &Params, memory: &mut HashMemory) -> Result<(), UnexpectedError> {
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    memory
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, DUMMY_SALT, &mut output, blocks)
        })
        .and_then(|done| done)
        .map_err(UnexpectedError::internal)
}

fn verify_stored(
    password: &[u8],
    stored: &str,
    params: &Params,
    memory: &mut HashMemory,
) -> Result<bool, UnexpectedError> {
    match phc::PasswordHash::new(stored) {
        Ok(parsed) => match check(password, &parsed, memory) {
            Ok(matches) => Ok(matches),
            Err(CheckError::Unusable(e)) => {
                tracing::error!(error = %e, "a stored password hash cannot be verified; refusing the password");
                dummy(password, params, memory).map(|()| false)
            }
            Err(CheckError::Failed(e)) => Err(e),
        },
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is not a valid PHC string; refusing the password");
            // Same cost as a real verification, so a corrupt row does not stand out by timing.
            dummy(password, params, memory).map(|()| false)
        }
    }
}

/// Why a verification produced no yes-or-no answer.
enum CheckError {
    /// The hash names an algorithm, version or parameters argon2 refuses, or lacks its salt or
    /// output: bad data.
    Unusable(password_hash::Error),
    /// The computation itself failed: a fault worth a 500.
    Failed(UnexpectedError),
}

fn check(password: &[u8], hash: &phc::PasswordHash, memory: &mut HashMemory) -> Result<bool, CheckError> {
    // The parameters, salt and algorithm come from the hash itself, not from this instance.
    let unusable = |e: password_hash::Error| CheckError::Unusable(e);
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(unusable)?;
    let version = hash.version.map(Version::try_from).transpose().map_err(|e| unusable(e.into()))?.unwrap_or_default();
    let params = Params::try_from(hash).map_err(unusable)?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(unusable(password_hash::Error::EncodingInvalid));
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let output = buffer.get_mut(..expected.len()).ok_or(unusable(password_hash::Error::OutputSize))?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    match memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, &mut *output, blocks)
    }) {
        Ok(Ok(())) => {}
        Err(e) | Ok(Err(e @ argon2::Error::OutOfMemory)) => {
            return Err(CheckError::Failed(UnexpectedError::internal(e)));
        }
        Ok(Err(e)) => return Err(unusable(e.into())),
    }
    // `Output`'s equality is constant-time.
    let computed = Output::new(output).map_err(|e| unusable(e.into()))?;
    Ok(&computed == expected)
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use crate::security::HashingPriority;

    use super::*;

    fn small_pool() -> HashingPoolSettings {
        HashingPoolSettings { threads: 1, queue_capacity: 8, priority: HashingPriority::Nice(0), idle_release: None }
    }

    #[test]
    fn the_default_parameters_are_the_owasp_ones() {
        let params = Params::DEFAULT;
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
    }

    #[tokio::test]
    async fn hashes_are_the_same_phc_strings_the_argon2_crate_makes_and_reads() {
        let hasher = Argon2Hasher::owasp(small_pool()).unwrap();
        let ours = hasher.hash(SecretString::from("Correct-Horse-42")).await.unwrap();
        assert!(ours.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", ours.expose());
        let parsed = phc::PasswordHash::new(ours.expose()).unwrap();
        assert!(Argon2::default().verify_password(b"Correct-Horse-42", &parsed).is_ok());

        let theirs = Argon2::default().hash_password(b"Correct-Horse-42").unwrap().to_string();
        let theirs = PasswordHash::new(theirs);
        assert!(hasher.verify(SecretString::from("Correct-Horse-42"), Some(theirs.clone())).await.unwrap());
        assert!(!hasher.verify(SecretString::from("Correct-Horse-43"), Some(theirs)).await.unwrap());
    }

    #[tokio::test]
    async fn a_stored_hash_without_salt_or_output_is_refused_not_an_error() {
        let hasher = Argon2Hasher::owasp(small_pool()).unwrap();
        for stored in ["$argon2id$v=19$m=19456,t=2,p=1", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0"] {
            let verdict = hasher.verify(SecretString::from("x"), Some(PasswordHash::new(stored.to_owned()))).await;
            assert!(!verdict.unwrap(), "{stored}");
        }
    }

    #[test]
    fn pool_settings_out_of_range_stop_the_build() {
        assert!(Argon2Hasher::owasp(HashingPoolSettings { threads: 0, ..small_pool() }).is_err());
    }
}
