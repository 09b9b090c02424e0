//! Access tokens: `JwtAccessTokens::verify` with a fixed 32-byte key, the server's issuer
//! (`forge`) and audience (`forge-api`) and a 15-minute lifetime, given tokens from the fuzzer.
//!
//! The first byte picks what the rest is:
//!
//! - 0: any text as a token. Whatever is accepted must carry a valid HMAC-SHA256 of its header and
//!   payload under the key, computed here with another implementation (RustCrypto's `hmac`) than
//!   the verifier's, and claim `HS256`: an arbitrary string is refused.
//! - 1: ids, a time and an edit. A token issued by `issue` is accepted at its time with exactly
//!   its ids, refused as expired from `exp` + 5 s; the same token with any one byte replaced,
//!   inserted or removed is refused as invalid.
//! - 2: a header choice and payload bytes, made into a token here: signed with another key,
//!   with HS384 or HS512 under the key, or unsigned (`alg: none`): always refused.
//! - 3: payload bytes signed with the key itself (what only the server can make): accepted only
//!   if the payload names the issuer, the audience and the `access` type and has not expired, and
//!   then read back exactly as the payload says.

#![no_main]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use forge_application::auth::ports::{AccessClaims, AccessTokenError, AccessTokens};
use forge_domain::{sessions::SessionId, users::UserId};
use forge_infrastructure::JwtAccessTokens;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};
use uuid::Uuid;

const KEY: &[u8; 32] = b"fuzz-signing-key-of-32-bytes-ok!";
const ISSUER: &str = "forge";
const AUDIENCE: &str = "forge-api";
const TTL_SECS: i64 = 15 * 60;
const LEEWAY_SECS: i64 = 5;
/// 2026-01-01T00:00:00Z, the `now` of modes 0, 2 and 3.
const NOW_SECS: i64 = 1_767_225_600;

fn tokens(key: &[u8]) -> JwtAccessTokens {
    JwtAccessTokens::new(key, ISSUER.into(), AUDIENCE.into(), Duration::seconds(TTL_SECS))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("a representable instant")
}

fn hmac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `header.payload.signature` from raw parts.
fn compact(header: &str, payload: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = sign(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// What must be true of any token the verifier accepted: signed with the key, under HS256, and
/// read back as its payload says.
fn check_accepted(token: &str, claims: &AccessClaims, now: i64) {
    let (message, signature) = token.rsplit_once('.').expect("an accepted token has a signature");
    let (header, payload) = message.rsplit_once('.').expect("an accepted token has three parts");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("an accepted signature is base64url");
    assert_eq!(signature, hmac::<Hmac<Sha256>>(KEY, message.as_bytes()), "accepted without the key's HMAC: {token:?}");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url header")).expect("a JSON header");
    assert_eq!(header["alg"], "HS256", "accepted another algorithm: {header}");
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload")).expect("a JSON payload");
    assert_eq!(payload["iss"], ISSUER, "accepted another issuer: {payload}");
    let audience_ok = match &payload["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "accepted another audience: {payload}");
    assert_eq!(payload["typ"], "access", "accepted another type: {payload}");
    let uuid = |name: &str| payload[name].as_str().and_then(|s| Uuid::parse_str(s).ok());
    assert_eq!(uuid("sub"), Some(claims.user_id.as_uuid()), "sub read wrongly: {payload}");
    assert_eq!(uuid("sid"), Some(claims.session_id.as_uuid()), "sid read wrongly: {payload}");
    assert_eq!(uuid("jti"), Some(claims.token_id), "jti read wrongly: {payload}");
    assert_eq!(payload["iat"].as_i64(), Some(claims.issued_at.timestamp()), "iat read wrongly: {payload}");
    let exp = payload["exp"].as_i64().expect("an integer exp");
    assert_eq!(exp, claims.expires_at.timestamp(), "exp read wrongly: {payload}");
    assert!(now < exp.saturating_add(LEEWAY_SECS), "accepted after its expiry: {payload}");
}

/// Takes `n` bytes (zero-padded when the input runs out).
fn take<const N: usize>(input: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(input.len());
    out[..n].copy_from_slice(&input[..n]);
    *input = &input[n..];
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let verifier = tokens(KEY);
    match mode % 4 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            if let Ok(claims) = verifier.verify(&token, at(NOW_SECS)) {
                check_accepted(&token, &claims, NOW_SECS);
            }
        }
        1 => {
            let user = Uuid::from_bytes(take::<16>(&mut rest));
            let session = Uuid::from_bytes(take::<16>(&mut rest));
            // Any second from 1970 to 9999 (so that `exp` is representable too).
            let now = i64::from(u32::from_le_bytes(take::<4>(&mut rest))) * 59 % 253_402_200_000;
            let [edit, byte] = take::<2>(&mut rest);
            let position = usize::from(u16::from_le_bytes(take::<2>(&mut rest)));
            let issued = verifier
                .issue(UserId::from_uuid(user), SessionId::from(session), at(now))
                .expect("a token can be issued");
            assert_eq!(issued.expires_in, TTL_SECS);
            let token = issued.token.expose_secret().to_owned();
            let claims = verifier.verify(&token, at(now)).expect("an issued token is accepted");
            assert_eq!((claims.user_id.as_uuid(), claims.session_id.as_uuid()), (user, session));
            assert_eq!((claims.issued_at, claims.expires_at), (at(now), at(now + TTL_SECS)));
            check_accepted(&token, &claims, now);
            let last_second = now + TTL_SECS + LEEWAY_SECS - 1;
            assert!(verifier.verify(&token, at(last_second)).is_ok(), "refused within the leeway");
            assert_eq!(verifier.verify(&token, at(last_second + 1)).map(drop), Err(AccessTokenError::Expired));

            let mut edited = token.clone().into_bytes();
            let position = position % (edited.len() + 1);
            match edit % 3 {
                0 if position < edited.len() => edited[position] = byte,
                1 => edited.insert(position, byte),
                _ if position < edited.len() => {
                    edited.remove(position);
                }
                _ => edited.push(byte),
            }
            let edited = String::from_utf8_lossy(&edited);
            if edited != token {
                assert_eq!(
                    verifier.verify(&edited, at(now)).map(drop),
                    Err(AccessTokenError::Invalid),
                    "an edited token was not refused: {edited:?} (issued {token:?})"
                );
            }
        }
        2 => {
            let [choice] = take::<1>(&mut rest);
            let other_key = take::<32>(&mut rest);
            let token = match choice % 4 {
                0 if &other_key != KEY => {
                    compact(r#"{"alg":"HS256","typ":"JWT"}"#, rest, |m| hmac::<Hmac<Sha256>>(&other_key, m))
                }
                0 => return,
                1 => compact(r#"{"alg":"HS384","typ":"JWT"}"#, rest, |m| hmac::<Hmac<Sha384>>(KEY, m)),
                2 => compact(r#"{"alg":"HS512","typ":"JWT"}"#, rest, |m| hmac::<Hmac<Sha512>>(KEY, m)),
                _ => compact(r#"{"alg":"none","typ":"JWT"}"#, rest, |_| Vec::new()),
            };
            assert_eq!(
                verifier.verify(&token, at(NOW_SECS)).map(drop),
                Err(AccessTokenError::Invalid),
                "a token not signed with HS256 and the key was not refused: {token:?}"
            );
            // The same payload from another installation's adapter (issued tokens only differ by ids).
            if &other_key != KEY {
                let other = tokens(&other_key)
                    .issue(UserId::from_uuid(Uuid::nil()), SessionId::from(Uuid::nil()), at(NOW_SECS))
                    .expect("a token can be issued");
                assert_eq!(
                    verifier.verify(other.token.expose_secret(), at(NOW_SECS)).map(drop),
                    Err(AccessTokenError::Invalid),
                    "a token of another key was accepted"
                );
            }
        }
        _ => {
            let token = compact(r#"{"alg":"HS256","typ":"JWT"}"#, rest, |m| hmac::<Hmac<Sha256>>(KEY, m));
            if let Ok(claims) = verifier.verify(&token, at(NOW_SECS)) {
                check_accepted(&token, &claims, NOW_SECS);
            }
        }
    }
});
