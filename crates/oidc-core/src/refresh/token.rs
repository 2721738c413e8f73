//! Refresh tokens on the wire, and the sealed successor of a rotation.
//!
//! A token is 57 bytes in base64url: `[1][family: 16][generation: 8][nonce: 16][tag: 16]`.
//! It names its family and generation, so a lookup reads one record and a rotation writes
//! one record: no index of every token ever issued, so storage stays bounded by the live
//! families however often they rotate. The tag is an HMAC under the deployment's token key
//! over the tenant and the rest of the token: a token of another tenant, or one made up with
//! a real family id, is simply unknown and revokes nothing; a genuine token of an older
//! generation is recognised as reuse. The nonce makes the token unguessable even to whoever
//! holds the token key; only its SHA-256 is stored.
//!
//! The successor kept for the overlap window is sealed under a key derived from the token it
//! replaces (and the family id): it opens only for whoever presents that token, never with
//! what the data directory holds alone.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::{Entropy, Secret};

const VERSION: u8 = 1;
const FAMILY_LEN: usize = 16;
const NONCE: usize = 16;
const TAG_LEN: usize = 16;
const BODY_LEN: usize = 1 + FAMILY_LEN + 8 + NONCE;
const TOKEN_LEN: usize = BODY_LEN + TAG_LEN;

/// The prefix of every family id.
pub const FAMILY_PREFIX: &str = "rtf_";

/// What a well-formed, authentic token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenId {
    pub family_id: String,
    pub generation: u64,
}

/// The deployment's refresh-token keys, derived from its secret.
pub struct RefreshKeys {
    mac: hmac::Key,
    seal: hmac::Key,
}

impl std::fmt::Debug for RefreshKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKeys([redacted])")
    }
}

impl RefreshKeys {
    /// Derives the token and sealing keys from the deployment secret (HMAC-SHA256 as a PRF,
    /// one label per key).
    pub fn derive(deployment_secret: &[u8]) -> RefreshKeys {
        let root = hmac::Key::new(hmac::HMAC_SHA256, deployment_secret);
        let derive =
            |label: &[u8]| hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&root, label).as_ref());
        RefreshKeys {
            mac: derive(b"claimsmith refresh-token mac v1"),
            seal: derive(b"claimsmith successor seal v1"),
        }
    }

    fn tag(&self, tenant: &str, body: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.mac);
        context.update(&(tenant.len() as u64).to_be_bytes());
        context.update(tenant.as_bytes());
        context.update(body);
        context.sign()
    }

    /// A fresh token of `family_id` at `generation`. `None` if the id is not a family id
    /// (families are made by `new_family_id`).
    pub fn mint(
        &self,
        tenant: &str,
        family_id: &str,
        generation: u64,
        entropy: &mut dyn Entropy,
    ) -> Option<Secret> {
        let family = family_bytes(family_id)?;
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.push(VERSION);
        token.extend_from_slice(&family);
        token.extend_from_slice(&generation.to_be_bytes());
        let mut nonce = [0u8; NONCE];
        entropy.fill(&mut nonce);
        token.extend_from_slice(&nonce);
        let tag = self.tag(tenant, &token);
        token.extend_from_slice(tag.as_ref().get(..TAG_LEN)?);
        Some(Secret::new(URL_SAFE_NO_PAD.encode(token)))
    }

    /// The family and generation a token names, if it is well formed and this deployment made
    /// it for `tenant`. The tag is compared in constant time.
    pub fn parse(&self, tenant: &str, token: &str) -> Option<TokenId> {
        if token.len() != (TOKEN_LEN * 4).div_ceil(3) {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != TOKEN_LEN || bytes.first() != Some(&VERSION) {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let expected = self.tag(tenant, body);
        let expected = expected.as_ref().get(..TAG_LEN)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected, tag)) {
            return None;
        }
        let family: [u8; FAMILY_LEN] = body.get(1..1 + FAMILY_LEN)?.try_into().ok()?;
        let generation = body
            .get(1 + FAMILY_LEN..1 + FAMILY_LEN + 8)?
            .try_into()
            .ok()?;
        Some(TokenId {
            family_id: family_id(&family),
            generation: u64::from_be_bytes(generation),
        })
    }

    fn successor_key(&self, previous: &Secret, family_id: &str) -> Option<LessSafeKey> {
        let mut context = hmac::Context::with_key(&self.seal);
        context.update(&(family_id.len() as u64).to_be_bytes());
        context.update(family_id.as_bytes());
        context.update(previous.expose().as_bytes());
        let key = UnboundKey::new(&AES_256_GCM, context.sign().as_ref()).ok()?;
        Some(LessSafeKey::new(key))
    }

    /// Seals `successor` so that only `previous` (and this deployment) can open it.
    pub fn seal(
        &self,
        successor: &Secret,
        previous: &Secret,
        family_id: &str,
        entropy: &mut dyn Entropy,
    ) -> Vec<u8> {
        let Some(key) = self.successor_key(previous, family_id) else {
            return Vec::new();
        };
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let mut sealed = successor.expose().as_bytes().to_vec();
        // Sealing with a valid key cannot fail; were it to, an empty blob never opens and a
        // retry falls back to reuse detection.
        let Ok(tag) = key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(family_id.as_bytes()),
            &mut sealed,
        ) else {
            return Vec::new();
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// The successor sealed for `previous`, if `previous` is the token it was sealed for.
    pub fn open(&self, sealed: &[u8], previous: &Secret, family_id: &str) -> Option<Secret> {
        let key = self.successor_key(previous, family_id)?;
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(family_id.as_bytes()), &mut buffer)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

/// A fresh family id: `rtf_` and 16 random bytes.
pub fn new_family_id(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; FAMILY_LEN];
    entropy.fill(&mut bytes);
    family_id(&bytes)
}

fn family_id(bytes: &[u8; FAMILY_LEN]) -> String {
    format!("{FAMILY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn family_bytes(family_id: &str) -> Option<[u8; FAMILY_LEN]> {
    let encoded = family_id.strip_prefix(FAMILY_PREFIX)?;
    URL_SAFE_NO_PAD.decode(encoded).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SystemEntropy;

    fn keys() -> RefreshKeys {
        RefreshKeys::derive(&[7u8; 32])
    }

    #[test]
    fn tokens_name_their_family_and_generation_for_one_tenant_only() {
        let keys = keys();
        let family = new_family_id(&mut SystemEntropy);
        let token = keys.mint("acme", &family, 41, &mut SystemEntropy).unwrap();
        assert_eq!(token.expose().len(), 76);
        assert_eq!(
            keys.parse("acme", token.expose()),
            Some(TokenId {
                family_id: family.clone(),
                generation: 41
            })
        );
        assert_eq!(keys.parse("globex", token.expose()), None);
        assert_eq!(
            RefreshKeys::derive(&[8u8; 32]).parse("acme", token.expose()),
            None
        );
        let again = keys.mint("acme", &family, 41, &mut SystemEntropy).unwrap();
        assert_ne!(again, token, "the nonce makes every token unique");
        assert_eq!(
            keys.mint("acme", "not-a-family", 0, &mut SystemEntropy),
            None
        );
    }

    #[test]
    fn forged_and_malformed_tokens_are_unknown() {
        let keys = keys();
        let family = new_family_id(&mut SystemEntropy);
        let token = keys.mint("acme", &family, 1, &mut SystemEntropy).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        bytes[20] ^= 1; // another generation, same tag
        assert_eq!(keys.parse("acme", &URL_SAFE_NO_PAD.encode(&bytes)), None);
        for junk in [
            "",
            "x",
            &"A".repeat(76),
            &"!".repeat(76),
            &token.expose()[1..],
        ] {
            assert_eq!(keys.parse("acme", junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_successor_opens_only_with_the_token_it_replaces() {
        let keys = keys();
        let (previous, successor) = (Secret::new("previous"), Secret::new("successor"));
        let sealed = keys.seal(&successor, &previous, "rtf_a", &mut SystemEntropy);
        assert!(!sealed.windows(9).any(|w| w == b"successor"));
        assert_eq!(keys.open(&sealed, &previous, "rtf_a"), Some(successor));
        assert_eq!(keys.open(&sealed, &Secret::new("other"), "rtf_a"), None);
        assert_eq!(keys.open(&sealed, &previous, "rtf_b"), None);
        assert_eq!(keys.open(&sealed[..5], &previous, "rtf_a"), None);
        assert_eq!(
            RefreshKeys::derive(&[8u8; 32]).open(&sealed, &previous, "rtf_a"),
            None
        );
    }
}
