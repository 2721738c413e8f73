//! A tenant's signing keys: the active key that signs, every key that verifies, and the JWKS
//! that publishes them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{SigningAlg, UnixMillis};
use crate::secret::Entropy;
use crate::vault::{OperatorKey, VaultError};

/// A private key in memory, ready to parse. `Debug` redacts it; it is never stored as is
/// (see [`StoredKey`]).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub kid: String,
    pub alg: SigningAlg,
    /// The private key in the DER form the signer takes: PKCS#1 `RSAPrivateKey` for RS256,
    /// PKCS#8 for ES256 and EdDSA.
    pub private_der: Vec<u8>,
    pub created_at: UnixMillis,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A signing key as stored: the private key wrapped under the operator key, bound to its
/// tenant and key id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub created_at: UnixMillis,
    #[serde(with = "crate::secret::base64_bytes")]
    pub wrapped_private: Vec<u8>,
}

fn key_aad(tenant: &str, kid: &str) -> String {
    format!("signing key\0{tenant}\0{kid}")
}

impl StoredKey {
    /// Wraps `material` for `tenant` under the operator key.
    pub fn wrap(
        material: &KeyMaterial,
        tenant: &str,
        operator: &OperatorKey,
        entropy: &mut dyn Entropy,
    ) -> StoredKey {
        StoredKey {
            kid: material.kid.clone(),
            alg: material.alg,
            created_at: material.created_at,
            wrapped_private: operator.wrap(
                &material.private_der,
                &key_aad(tenant, &material.kid),
                entropy,
            ),
        }
    }

    /// The private key, if `operator` wrapped it for `tenant`.
    pub fn unwrap(&self, tenant: &str, operator: &OperatorKey) -> Result<KeyMaterial, VaultError> {
        Ok(KeyMaterial {
            kid: self.kid.clone(),
            alg: self.alg,
            private_der: operator.unwrap(&self.wrapped_private, &key_aad(tenant, &self.kid))?,
            created_at: self.created_at,
        })
    }
}

/// Why keys could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the tenant has no {0:?} key")]
    NoActiveKey(SigningAlg),
    #[error("key {kid} is unusable: {reason}")]
    Unusable { kid: String, reason: String },
    #[error("key generation failed: {0}")]
    Generation(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Generates a fresh key for `alg`.
///
/// The one place the domain draws randomness itself: aws-lc generates RSA and EC keys from the
/// operating system's generator and takes no `Entropy`. Called when a tenant is created or a
/// key rotated, never on a request.
pub fn generate(alg: SigningAlg, kid: String, now: UnixMillis) -> Result<KeyMaterial, KeyError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let failed = |e: aws_lc_rs::error::Unspecified| KeyError::Generation(e.to_string());
    let private_der = match alg {
        SigningAlg::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(failed)?;
            // aws-lc writes PKCS#8; the RSA signer reads the PKCS#1 key inside it.
            let info = pkcs8::PrivateKeyInfo::try_from(pkcs8.as_ref())
                .map_err(|e| KeyError::Generation(e.to_string()))?;
            info.private_key.to_vec()
        }
        SigningAlg::ES256 => {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(failed)?
                .as_ref()
                .to_vec()
        }
        SigningAlg::EdDSA => Ed25519KeyPair::generate()
            .map_err(failed)?
            .to_pkcs8v1()
            .map_err(failed)?
            .as_ref()
            .to_vec(),
    };
    Ok(KeyMaterial {
        kid,
        alg,
        private_der,
        created_at: now,
    })
}

fn algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::EdDSA => Algorithm::EdDSA,
    }
}

fn encoding_key(material: &KeyMaterial) -> EncodingKey {
    match material.alg {
        SigningAlg::RS256 => EncodingKey::from_rsa_der(&material.private_der),
        SigningAlg::ES256 => EncodingKey::from_ec_der(&material.private_der),
        SigningAlg::EdDSA => EncodingKey::from_ed_der(&material.private_der),
    }
}

/// The active private key, parsed once. `jsonwebtoken::encode` parses (and, for ECDSA and
/// RSA, checks) the private key on every call, which cost more than the signature itself; the
/// key pairs here are aws-lc-rs's, the library jsonwebtoken signs with, kept for the life of
/// the tenant's keys.
enum ActiveKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

impl ActiveKey {
    /// Parses the key as jsonwebtoken reads each kind: RSA as PKCS#1, ECDSA and Ed25519 as
    /// PKCS#8.
    fn parse(material: &KeyMaterial) -> Result<ActiveKey, KeyError> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let unusable = |reason: String| KeyError::Unusable {
            kid: material.kid.clone(),
            reason,
        };
        let der = material.private_der.as_slice();
        Ok(match material.alg {
            SigningAlg::RS256 => ActiveKey::Rsa(
                aws_lc_rs::rsa::KeyPair::from_der(der).map_err(|e| unusable(e.to_string()))?,
            ),
            SigningAlg::ES256 => ActiveKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| unusable(e.to_string()))?,
            ),
            SigningAlg::EdDSA => ActiveKey::Ed25519(
                Ed25519KeyPair::from_pkcs8(der).map_err(|e| unusable(e.to_string()))?,
            ),
        })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |e: aws_lc_rs::error::Unspecified| KeyError::Signing(e.to_string());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Ok(match self {
            ActiveKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                signature
            }
            ActiveKey::Ecdsa(pair) => pair.sign(&rng, message).map_err(failed)?.as_ref().to_vec(),
            ActiveKey::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
        })
    }
}

struct Verifier {
    kid: String,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Keys ready to use: parsed once per tenant, not per request.
pub struct TenantKeys {
    active_kid: String,
    active: ActiveKey,
    /// The JWS header of every token, base64url-encoded once.
    encoded_header: String,
    verifiers: Vec<Verifier>,
    jwks: JwkSet,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeys")
            .field("active_kid", &self.active_kid)
            .finish_non_exhaustive()
    }
}

impl TenantKeys {
    /// The newest key of `signing_alg` signs; every key verifies and is published, so tokens
    /// signed before a rotation stay valid.
    pub fn new(materials: &[KeyMaterial], signing_alg: SigningAlg) -> Result<TenantKeys, KeyError> {
        let active = materials
            .iter()
            .filter(|m| m.alg == signing_alg)
            .max_by_key(|m| m.created_at)
            .ok_or(KeyError::NoActiveKey(signing_alg))?;
        let mut verifiers = Vec::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for material in materials {
            let unusable = |e: jsonwebtoken::errors::Error| KeyError::Unusable {
                kid: material.kid.clone(),
                reason: e.to_string(),
            };
            let algorithm = algorithm(material.alg);
            let mut jwk =
                Jwk::from_encoding_key(&encoding_key(material), algorithm).map_err(unusable)?;
            jwk.common.key_id = Some(material.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(match material.alg {
                SigningAlg::RS256 => KeyAlgorithm::RS256,
                SigningAlg::ES256 => KeyAlgorithm::ES256,
                SigningAlg::EdDSA => KeyAlgorithm::EdDSA,
            });
            let key = DecodingKey::from_jwk(&jwk).map_err(unusable)?;
            verifiers.push(Verifier {
                kid: material.kid.clone(),
                algorithm,
                key,
            });
            jwks.keys.push(jwk);
        }
        let mut header = Header::new(algorithm(active.alg));
        header.kid = Some(active.kid.clone());
        let header = serde_json::to_vec(&header).map_err(|e| KeyError::Signing(e.to_string()))?;
        let keys = TenantKeys {
            active_kid: active.kid.clone(),
            active: ActiveKey::parse(active)?,
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            verifiers,
            jwks,
        };
        // Fail now, not on the first request, if the active key cannot sign.
        keys.sign(&serde_json::json!({ "probe": true }))?;
        Ok(keys)
    }

    /// Signs `claims` as a JWT with the active key: JWS compact serialization (RFC 7515
    /// §7.1), `header.claims.signature`, each part base64url without padding.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let claims = serde_json::to_vec(claims).map_err(|e| KeyError::Signing(e.to_string()))?;
        let mut token = String::with_capacity(self.encoded_header.len() + claims.len() * 2 + 100);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = self.active.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Verifies a JWT signed by any of the tenant's keys, with `iss` and expiry checked, and
    /// returns its claims. Any failure is `None`: the caller answers `invalid_token`.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        now_secs: u64,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let verifier = self
            .verifiers
            .iter()
            .find(|v| header.kid.as_deref() == Some(v.kid.as_str()) && v.algorithm == header.alg)?;
        let mut validation = Validation::new(verifier.algorithm);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "exp", "sub"]);
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &verifier.key, &validation).ok()?;
        let exp = data.claims.get("exp")?.as_u64()?;
        if exp <= now_secs {
            return None;
        }
        serde_json::from_value(data.claims).ok()
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_verifies_and_publishes() {
        for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
            let key = generate(alg, format!("k-{}", alg.as_str()), 1).unwrap();
            let keys = TenantKeys::new(std::slice::from_ref(&key), alg).unwrap();
            let token = keys
                .sign(&serde_json::json!({"iss": "https://t/", "sub": "u", "exp": 100}))
                .unwrap();
            let claims: serde_json::Value = keys.verify(&token, "https://t/", 99).unwrap();
            assert_eq!(claims["sub"], "u");
            assert!(
                keys.verify::<serde_json::Value>(&token, "https://t/", 100)
                    .is_none(),
                "expired"
            );
            assert!(
                keys.verify::<serde_json::Value>(&token, "https://other/", 99)
                    .is_none(),
                "wrong issuer"
            );
            assert_eq!(
                keys.jwks().keys[0].common.key_id.as_deref(),
                Some(key.kid.as_str())
            );
        }
    }

    /// The key parsed once signs exactly as `jsonwebtoken::encode` does: the same header and
    /// claims parts, and for the deterministic schemes (RSA PKCS#1 v1.5, Ed25519) the same
    /// token; ECDSA signatures are randomized, so that one is checked by verification.
    #[test]
    fn tokens_are_the_ones_jsonwebtoken_would_sign() {
        let claims = serde_json::json!({"iss": "https://t/", "sub": "u", "exp": 100, "n": "é"});
        for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
            let key = generate(alg, format!("k-{}", alg.as_str()), 1).unwrap();
            let keys = TenantKeys::new(std::slice::from_ref(&key), alg).unwrap();
            let mut header = Header::new(algorithm(alg));
            header.kid = Some(key.kid.clone());
            let expected = jsonwebtoken::encode(&header, &claims, &encoding_key(&key)).unwrap();
            let token = keys.sign(&claims).unwrap();
            let parts = |t: &str| t.rsplit_once('.').map(|(m, _)| m.to_owned()).unwrap();
            assert_eq!(parts(&token), parts(&expected), "{alg:?}");
            if alg != SigningAlg::ES256 {
                assert_eq!(token, expected, "{alg:?}");
            }
            let verified: serde_json::Value = keys.verify(&token, "https://t/", 99).unwrap();
            assert_eq!(verified, claims);
        }
    }

    #[test]
    fn old_keys_keep_verifying_after_a_rotation() {
        let old = generate(SigningAlg::ES256, "old".into(), 1).unwrap();
        let before = TenantKeys::new(std::slice::from_ref(&old), SigningAlg::ES256).unwrap();
        let token = before
            .sign(&serde_json::json!({"iss": "i", "sub": "u", "exp": 10}))
            .unwrap();
        let new = generate(SigningAlg::ES256, "new".into(), 2).unwrap();
        let after = TenantKeys::new(&[old, new], SigningAlg::ES256).unwrap();
        assert_eq!(after.active_kid(), "new");
        assert!(after.verify::<serde_json::Value>(&token, "i", 5).is_some());
        assert_eq!(after.jwks().keys.len(), 2);
    }
}
