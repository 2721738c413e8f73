//! Secrets at rest: everything that could sign a token or open a sealed one (tenants' private
//! keys, the deployment secret) is stored encrypted under the operator key, which never
//! touches the store. Whoever copies the data directory gets ciphertext.
//!
//! A wrapped blob is `[1][key id: 8][nonce: 12][ciphertext + tag]`, AES-256-GCM with
//! associated data naming what it is (a tenant and key id, say), so a blob cannot be moved to
//! another record. The key id tells which operator key wrapped a blob, so rotating the
//! operator key (`claimsmith rekey`) can be resumed after a crash halfway through.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;

use crate::keys::StoredKey;
use crate::secret::Entropy;
use crate::store::{Store, StoreError};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
/// Bytes of a wrapped blob before its ciphertext.
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The name of the operator key every `--insecure-dev-key` deployment shares. Public on
/// purpose: it protects nothing, and says so in the log.
const INSECURE_DEV_KEY_SOURCE: &[u8] =
    b"claimsmith insecure development operator key, never use in production";

/// Why a key or a blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "an operator key is 32 random bytes, written as 44 base64 or 64 hex characters (make one with `claimsmith keygen`)"
    )]
    BadKey,
    #[error(
        "this data was encrypted under another operator key (id {found}; the key given has id {given})"
    )]
    WrongKey { found: String, given: String },
    #[error("an encrypted record is corrupt or was tampered with")]
    Corrupt,
}

/// The key that encrypts secrets at rest. `Debug` redacts it.
pub struct OperatorKey {
    key: LessSafeKey,
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorKey(id {})", self.id_hex())
    }
}

impl OperatorKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<OperatorKey, VaultError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| VaultError::BadKey)?;
        let id_tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, bytes),
            b"claimsmith operator key id",
        );
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(
            id_tag
                .as_ref()
                .get(..KEY_ID_LEN)
                .ok_or(VaultError::BadKey)?,
        );
        Ok(OperatorKey {
            key: LessSafeKey::new(unbound),
            id,
        })
    }

    /// A key as written in a key file or an environment variable: 32 bytes in base64 or hex,
    /// surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<OperatorKey, VaultError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        };
        match bytes {
            Some(bytes) if bytes.len() == 32 => OperatorKey::from_bytes(&bytes),
            _ => Err(VaultError::BadKey),
        }
    }

    /// A fresh key, as a key file holds it (base64).
    pub fn generate(entropy: &mut dyn Entropy) -> String {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The well-known development key. It encrypts, but protects nothing: for demos only.
    pub fn insecure_dev() -> OperatorKey {
        let digest = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, INSECURE_DEV_KEY_SOURCE),
            b"key",
        );
        #[allow(
            clippy::expect_used,
            reason = "an HMAC-SHA256 tag is always 32 bytes, a valid AES-256 key"
        )]
        OperatorKey::from_bytes(digest.as_ref()).expect("32 bytes")
    }

    /// A short public fingerprint of the key, for logs and error messages.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// Encrypts `plaintext`, bound to `aad`.
    pub fn wrap(&self, plaintext: &[u8], aad: &str, entropy: &mut dyn Entropy) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let mut sealed = plaintext.to_vec();
        let tag = self.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut sealed,
        );
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        // Sealing a short plaintext with a valid key cannot fail; were it to, the truncated
        // blob fails to open, which is reported as corrupt rather than silently accepted.
        if let Ok(tag) = tag {
            out.extend_from_slice(tag.as_ref());
        }
        out
    }

    /// Decrypts a blob this key wrapped with the same `aad`.
    pub fn unwrap(&self, blob: &[u8], aad: &str) -> Result<Vec<u8>, VaultError> {
        let found = wrapped_by(blob).ok_or(VaultError::Corrupt)?;
        if found != self.id {
            return Err(VaultError::WrongKey {
                found: hex::encode(found),
                given: self.id_hex(),
            });
        }
        let nonce = blob
            .get(1 + KEY_ID_LEN..HEADER_LEN)
            .and_then(|n| Nonce::try_assume_unique_for_key(n).ok())
            .ok_or(VaultError::Corrupt)?;
        let mut buffer = blob.get(HEADER_LEN..).ok_or(VaultError::Corrupt)?.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buffer)
            .map_err(|_| VaultError::Corrupt)?;
        Ok(plain.to_vec())
    }

    /// Whether this key wrapped `blob`.
    pub fn wrapped(&self, blob: &[u8]) -> bool {
        wrapped_by(blob) == Some(self.id)
    }
}

/// The meta record holding the deployment secret, wrapped.
pub const DEPLOYMENT_SECRET: &str = "deployment_secret";
const DEPLOYMENT_SECRET_AAD: &str = "deployment secret";

/// Why the deployment's secrets could not be opened or rewrapped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("tenant {tenant}, key {kid}: {source}")]
    Key {
        tenant: String,
        kid: String,
        source: VaultError,
    },
}

/// The deployment secret (the root of the refresh-token keys), created wrapped under
/// `operator` on first start. `WrongKey` if the store was created with another operator key:
/// the server refuses to start rather than mint tokens nobody can check.
pub fn deployment_secret(
    store: &dyn Store,
    operator: &OperatorKey,
    entropy: &mut dyn Entropy,
) -> Result<Vec<u8>, DeploymentError> {
    let wrapped = match store.meta(DEPLOYMENT_SECRET)? {
        Some(wrapped) => wrapped,
        None => {
            let mut secret = [0u8; 32];
            entropy.fill(&mut secret);
            let wrapped = operator.wrap(&secret, DEPLOYMENT_SECRET_AAD, entropy);
            store.meta_swap(DEPLOYMENT_SECRET, None, &wrapped)?;
            // Whoever won a race to create it, read what is stored.
            store
                .meta(DEPLOYMENT_SECRET)?
                .ok_or_else(|| StoreError::corrupt("meta", "the deployment secret vanished"))?
        }
    };
    Ok(operator.unwrap(&wrapped, DEPLOYMENT_SECRET_AAD)?)
}

/// What `rewrap` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrapped {
    pub keys: usize,
    pub deployment_secret: bool,
}

/// Re-encrypts every secret at rest from `old` to `new` (operator key rotation). Each record
/// is rewritten on its own, and what `new` already wrapped is skipped, so a rotation that
/// stopped halfway is finished by running it again with the same two keys.
pub fn rewrap(
    store: &dyn Store,
    old: &OperatorKey,
    new: &OperatorKey,
    entropy: &mut dyn Entropy,
) -> Result<Rewrapped, DeploymentError> {
    let mut done = Rewrapped::default();
    for tenant in store.tenants()? {
        for key in store.keys(&tenant.id)? {
            if new.wrapped(&key.wrapped_private) {
                continue;
            }
            let material = key
                .unwrap(&tenant.id, old)
                .map_err(|source| DeploymentError::Key {
                    tenant: tenant.id.clone(),
                    kid: key.kid.clone(),
                    source,
                })?;
            store.put_key(
                &tenant.id,
                &StoredKey::wrap(&material, &tenant.id, new, entropy),
            )?;
            done.keys += 1;
        }
    }
    if let Some(wrapped) = store.meta(DEPLOYMENT_SECRET)?
        && !new.wrapped(&wrapped)
    {
        let secret = old.unwrap(&wrapped, DEPLOYMENT_SECRET_AAD)?;
        let rewrapped = new.wrap(&secret, DEPLOYMENT_SECRET_AAD, entropy);
        done.deployment_secret = store.meta_swap(DEPLOYMENT_SECRET, Some(&wrapped), &rewrapped)?;
    }
    Ok(done)
}

/// The id of the operator key that wrapped `blob`.
fn wrapped_by(blob: &[u8]) -> Option<[u8; KEY_ID_LEN]> {
    match blob.split_first() {
        Some((&VERSION, rest)) => rest.get(..KEY_ID_LEN)?.try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SystemEntropy;

    #[test]
    fn wraps_for_one_key_and_one_purpose() {
        let key = OperatorKey::parse(&OperatorKey::generate(&mut SystemEntropy)).unwrap();
        let blob = key.wrap(b"private key", "tenant acme key k1", &mut SystemEntropy);
        assert!(!blob.windows(11).any(|w| w == b"private key"));
        assert_eq!(
            key.unwrap(&blob, "tenant acme key k1").unwrap(),
            b"private key"
        );
        assert_eq!(
            key.unwrap(&blob, "tenant other key k1"),
            Err(VaultError::Corrupt)
        );
        let other = OperatorKey::parse(&"ab".repeat(32)).unwrap();
        assert!(matches!(
            other.unwrap(&blob, "tenant acme key k1"),
            Err(VaultError::WrongKey { .. })
        ));
        assert!(key.wrapped(&blob) && !other.wrapped(&blob));
        let mut tampered = blob.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.unwrap(&tampered, "tenant acme key k1"),
            Err(VaultError::Corrupt)
        );
        assert_eq!(key.unwrap(&blob[..5], "x"), Err(VaultError::Corrupt));
    }

    #[test]
    fn key_text_is_base64_or_hex_of_32_bytes() {
        assert!(OperatorKey::parse(&"00".repeat(32)).is_ok());
        assert!(OperatorKey::parse(&format!("  {}\n", "A".repeat(43) + "=")).is_ok());
        assert_eq!(OperatorKey::parse("short").unwrap_err(), VaultError::BadKey);
        assert_eq!(
            OperatorKey::parse(&"00".repeat(16)).unwrap_err(),
            VaultError::BadKey
        );
        assert_eq!(
            OperatorKey::insecure_dev().id_hex(),
            OperatorKey::insecure_dev().id_hex()
        );
    }
}
