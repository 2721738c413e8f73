//! Sealing a refresh token at rest: the successor of a rotation is kept, encrypted, only so
//! that a retried exchange inside the overlap window can be answered with the same token.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::secret::{Entropy, Secret};

/// AES-256-GCM with a random nonce per sealing. The key is the deployment's, kept by the
/// store; the family id is bound as associated data, so a sealed token cannot be moved to
/// another family.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// `None` unless `key` is 32 bytes.
    pub fn new(key: &[u8]) -> Option<Sealer> {
        let key = UnboundKey::new(&AES_256_GCM, key).ok()?;
        Some(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    pub fn seal(&self, token: &Secret, family_id: &str, entropy: &mut dyn Entropy) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let mut sealed = token.expose().as_bytes().to_vec();
        let tag = self.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(family_id.as_bytes()),
            &mut sealed,
        );
        // Sealing with a valid key and a short plaintext cannot fail; were it to, an empty
        // result simply never opens, and the overlap replay falls back to reuse detection.
        let Ok(tag) = tag else { return Vec::new() };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out.extend_from_slice(tag.as_ref());
        out
    }

    pub fn open(&self, sealed: &[u8], family_id: &str) -> Option<Secret> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(family_id.as_bytes()), &mut buffer)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SystemEntropy;

    #[test]
    fn seals_and_opens_only_for_its_family() {
        let sealer = Sealer::new(&[7u8; 32]).unwrap();
        let token = Secret::new("rt-secret");
        let sealed = sealer.seal(&token, "rtf_a", &mut SystemEntropy);
        assert!(!String::from_utf8_lossy(&sealed).contains("rt-secret"));
        assert_eq!(sealer.open(&sealed, "rtf_a"), Some(token));
        assert_eq!(sealer.open(&sealed, "rtf_b"), None);
        assert_eq!(sealer.open(&sealed[..5], "rtf_a"), None);
        assert!(Sealer::new(&[0u8; 16]).is_none());
    }
}
