//! Opaque random tokens, stored only as digests.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use forge_application::auth::ports::OpaqueTokens;
use forge_domain::sessions::TokenDigest;
use rand::{TryRng as _, rngs::SysRng};
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

/// Bytes of randomness per token: 256 bits, so guessing is out of the question and a plain
/// (unsalted) digest is enough to store it.
const TOKEN_BYTES: usize = 32;

/// [`OpaqueTokens`]: 32 bytes from the operating system's RNG, encoded base64url without
/// padding (43 characters); the digest is the lower-case hex SHA-256 of the token string.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomTokens;

impl RandomTokens {
    /// The token maker.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl OpaqueTokens for RandomTokens {
    fn generate(&self) -> (SecretString, TokenDigest) {
        let mut bytes = [0u8; TOKEN_BYTES];
        if let Err(e) = SysRng.try_fill_bytes(&mut bytes) {
            // The port cannot fail, and the OS RNG practically never does. The thread-local
            // generator is a CSPRNG seeded from the OS too (it panics if it never could be).
            tracing::error!(error = %e, "the OS random number generator failed; using the thread-local CSPRNG");
            rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        }
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let digest = self.digest(&token);
        (SecretString::from(token), digest)
    }

    fn digest(&self, token: &str) -> TokenDigest {
        TokenDigest::new(hex::encode(Sha256::digest(token.as_bytes())))
    }
}
