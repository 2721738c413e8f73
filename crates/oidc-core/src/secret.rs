//! Secrets: newtypes that never print, hashes compared in constant time, and fresh tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// A secret as received: a client secret, a password, a refresh token. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; the name makes every use visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the secret, as stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash(crate::digest::sha256(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The SHA-256 of a high-entropy secret (a generated client secret or refresh token).
///
/// A fast hash is right here, unlike for passwords: these secrets carry 256 bits of entropy,
/// so there is nothing to brute-force, and the hash is looked up on every request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretHash(#[serde(with = "hex_bytes")] pub [u8; 32]);

impl SecretHash {
    /// Compares in constant time: a timing side channel must not reveal a prefix.
    pub fn matches(&self, secret: &Secret) -> bool {
        bool::from(self.0.ct_eq(&secret.hash().0))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

/// The randomness the domain needs (tokens, identifiers, nonces), passed in like the clock.
pub trait Entropy {
    fn fill(&mut self, buffer: &mut [u8]);
}

/// The operating system's generator, via aws-lc.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&mut self, buffer: &mut [u8]) {
        // aws-lc's generator fails only if the OS has no entropy source at all, in which case
        // continuing would mint guessable tokens: abort instead.
        #[allow(
            clippy::expect_used,
            reason = "no entropy is not a state to continue in"
        )]
        aws_lc_rs::rand::fill(buffer).expect("the operating system provides randomness");
    }
}

/// A fresh 256-bit token, base64url: refresh tokens, client secrets.
pub fn new_token(entropy: &mut dyn Entropy) -> Secret {
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh identifier with a prefix, e.g. `rtf_…` for a refresh-token family.
pub fn new_id(prefix: &str, entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out)
            .map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
        Ok(out)
    }
}

/// Verifies a password against an Argon2 PHC hash. Any malformed hash is a mismatch.
pub fn verify_password(password: &Secret, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.expose().as_bytes(), &hash)
            .is_ok()
    })
}

/// Hashes a password with Argon2id and a fresh salt, in PHC format.
pub fn hash_password(password: &Secret, entropy: &mut dyn Entropy) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Bytes as base64 in a record: binary blobs (wrapped keys, sealed tokens) in JSON records.
pub(crate) mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
