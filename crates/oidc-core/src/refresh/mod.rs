//! Refresh-token families and the rotation policy, as pure decisions over stored state.
//!
//! A *family* is everything descended from one issuance. Each exchange of a rotating family
//! moves it to the next *generation*. A token names its family and generation (see
//! [`token`]), and the family keeps the hash of its one live token, so presenting an older
//! token is recognised as reuse without an index of every token ever issued.

pub mod lifecycle;
pub mod token;

use serde::{Deserialize, Serialize};

use crate::model::{RefreshPolicy, UnixMillis};
use crate::secret::SecretHash;

/// At most this many live families per user and client (Auth0's limit); the oldest go first.
pub const MAX_LIVE_PER_USER_AND_CLIENT: usize = 200;

/// One refresh-token family as stored. Never holds a token in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub audience: Option<String>,
    pub scope: Vec<String>,
    pub created_at: UnixMillis,
    /// When the user authenticated; the `auth_time` of every ID token of the family.
    pub auth_time: UnixMillis,
    /// Absolute expiry, fixed at creation (rules may shorten it).
    pub expires_at: Option<UnixMillis>,
    /// Idle lifetime; the idle expiry slides by it on every exchange.
    pub idle_lifetime_ms: Option<u64>,
    pub idle_expires_at: Option<UnixMillis>,
    pub last_exchanged_at: Option<UnixMillis>,
    pub rotating: bool,
    /// Overlap window for rotating families, in milliseconds.
    pub overlap_ms: u64,
    /// The generation of the one live token.
    pub generation: u64,
    /// SHA-256 of the one live token.
    pub token_hash: SecretHash,
    /// When the live generation was issued.
    pub rotated_at: UnixMillis,
    /// The live token, sealed for the previous one (see [`token::RefreshKeys::seal`]), kept
    /// while the overlap window is open so that a retry of the previous token gets the same
    /// successor; dropped by the next write or the sweep once the window has closed.
    #[serde(default, with = "sealed_bytes")]
    pub sealed_successor: Option<Vec<u8>>,
    pub revoked: Option<Revocation>,
    /// Where its tokens were first and last used from.
    #[serde(default)]
    pub device: Device,
    /// The SSO session of the login that created it (none for the password grant).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Bumped on every write: the store's compare-and-swap checks it, so two concurrent
    /// exchanges cannot both advance the family.
    pub version: u64,
}

/// Base64 for the optional sealed successor.
mod sealed_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        bytes
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        use base64::Engine as _;
        Option::<String>::deserialize(d)?
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// Why and when a family died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub at: UnixMillis,
    pub reason: String,
}

/// Where a family's tokens were used from (Auth0's refresh-token `device`): the request that
/// created it, and the latest exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub initial_ip: Option<String>,
    pub initial_user_agent: Option<String>,
    pub last_ip: Option<String>,
    pub last_user_agent: Option<String>,
}

impl Device {
    /// The device of a family created by `request`.
    pub fn first(request: &crate::rules::RequestInfo) -> Device {
        Device {
            initial_ip: request.ip.clone(),
            initial_user_agent: request.user_agent.clone(),
            last_ip: request.ip.clone(),
            last_user_agent: request.user_agent.clone(),
        }
    }

    /// Records an exchange by `request`.
    pub fn seen(&mut self, request: &crate::rules::RequestInfo) {
        self.last_ip = request.ip.clone();
        self.last_user_agent = request.user_agent.clone();
    }
}

impl RefreshFamily {
    /// A new family at generation 0, per the client's policy, whose live token hashes to
    /// `token_hash`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one field each; a builder would add nothing"
    )]
    pub fn new(
        id: String,
        token_hash: SecretHash,
        client_id: &str,
        user_id: &str,
        audience: Option<String>,
        scope: Vec<String>,
        policy: &RefreshPolicy,
        now: UnixMillis,
    ) -> RefreshFamily {
        let idle_lifetime_ms = policy.idle_lifetime_secs.map(|s| s.saturating_mul(1000));
        RefreshFamily {
            id,
            client_id: client_id.to_owned(),
            user_id: user_id.to_owned(),
            audience,
            scope,
            created_at: now,
            auth_time: now,
            expires_at: policy
                .absolute_lifetime_secs
                .map(|s| now.saturating_add(s.saturating_mul(1000))),
            idle_lifetime_ms,
            idle_expires_at: idle_lifetime_ms.map(|ms| now.saturating_add(ms)),
            last_exchanged_at: None,
            rotating: policy.rotating,
            overlap_ms: policy.overlap_secs.saturating_mul(1000),
            generation: 0,
            token_hash,
            rotated_at: now,
            sealed_successor: None,
            revoked: None,
            device: Device::default(),
            session_id: None,
            version: 0,
        }
    }

    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.revoked.is_none()
            && self.expires_at.is_none_or(|at| now < at)
            && self.idle_expires_at.is_none_or(|at| now < at)
    }

    /// What presenting a token of `generation` that hashes to `presented` means at `now`.
    pub fn decide(&self, generation: u64, presented: &SecretHash, now: UnixMillis) -> Exchange {
        if !self.is_live(now) {
            return Exchange::Dead;
        }
        if generation > self.generation {
            // Minted by an exchange that lost its compare-and-swap: never returned to anyone.
            return Exchange::Unknown;
        }
        if generation == self.generation {
            return match (presented == &self.token_hash, self.rotating) {
                (false, _) => Exchange::Unknown,
                (true, true) => Exchange::Rotate,
                (true, false) => Exchange::Keep,
            };
        }
        let previous = self.rotating && generation + 1 == self.generation;
        if previous && self.in_window(now) && self.sealed_successor.is_some() {
            return Exchange::ReplaySuccessor;
        }
        Exchange::Reuse
    }

    /// The family as the client's current policy has it, before an exchange decides (Auth0:
    /// a policy change reaches live tokens at their next exchange): rotation on or off, the
    /// overlap window, and the idle lifetime follow the setting; a non-expiring family becomes
    /// expiring (from now) once the client sets an absolute lifetime, never the other way.
    /// The version stays: this is how the stored record is read, not a write.
    pub fn under_policy(&self, policy: &RefreshPolicy, now: UnixMillis) -> RefreshFamily {
        let mut family = self.clone();
        family.rotating = policy.rotating;
        family.overlap_ms = policy.overlap_secs.saturating_mul(1000);
        family.idle_lifetime_ms = policy.idle_lifetime_secs.map(|s| s.saturating_mul(1000));
        if family.expires_at.is_none() {
            family.expires_at = policy
                .absolute_lifetime_secs
                .map(|s| now.saturating_add(s.saturating_mul(1000)));
        }
        family
    }

    /// Whether the overlap window of the latest rotation is still open.
    pub fn in_window(&self, now: UnixMillis) -> bool {
        self.overlap_ms > 0 && now.saturating_sub(self.rotated_at) <= self.overlap_ms
    }

    /// The family after a successful exchange: idle expiry slides, and a rotation moves to the
    /// next generation with a new live token. Rules may shorten either expiry, never lengthen
    /// it.
    pub fn after_exchange(
        &self,
        rotation: Option<Rotation>,
        shorten: (Option<UnixMillis>, Option<UnixMillis>),
        now: UnixMillis,
    ) -> RefreshFamily {
        let mut next = self.clone();
        next.last_exchanged_at = Some(now);
        next.idle_expires_at = self.idle_lifetime_ms.map(|ms| now.saturating_add(ms));
        next.shorten(shorten.0, shorten.1);
        match rotation {
            Some(rotation) => {
                next.generation += 1;
                next.token_hash = rotation.token_hash;
                next.rotated_at = now;
                next.sealed_successor = rotation.sealed_successor;
            }
            None if !self.in_window(now) => next.sealed_successor = None,
            None => {}
        }
        next.version += 1;
        next
    }

    /// The family with its sealed successor dropped, once the window has closed.
    pub fn unsealed(&self) -> RefreshFamily {
        let mut next = self.clone();
        next.sealed_successor = None;
        next.version += 1;
        next
    }

    /// Applies lifetimes a rule asked for; they can only come earlier, never later.
    pub fn shorten(&mut self, expires_at: Option<UnixMillis>, idle_expires_at: Option<UnixMillis>) {
        self.expires_at = earliest(self.expires_at, expires_at);
        self.idle_expires_at = earliest(self.idle_expires_at, idle_expires_at);
    }

    /// The family, revoked.
    pub fn revoke(&self, reason: &str, now: UnixMillis) -> RefreshFamily {
        let mut next = self.clone();
        next.revoked = Some(Revocation {
            at: now,
            reason: reason.to_owned(),
        });
        next.sealed_successor = None;
        next.version += 1;
        next
    }

    /// The `refreshToken` record rules see.
    pub fn rule_view(&self) -> rules_abi::RefreshTokenInfo {
        rules_abi::RefreshTokenInfo {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            idle_expires_at: self.idle_expires_at,
            last_exchanged_at: self.last_exchanged_at,
            rotating: self.rotating,
            session_id: self.session_id.clone(),
            scope: self.scope.clone(),
        }
    }
}

fn earliest(a: Option<UnixMillis>, b: Option<UnixMillis>) -> Option<UnixMillis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A rotation's new live token: its hash and, inside an overlap window, the sealed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub token_hash: SecretHash,
    pub sealed_successor: Option<Vec<u8>>,
}

/// The meaning of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Revoked or expired: refuse.
    Dead,
    /// Not a token this family handed out (a later generation that lost its race, or a token
    /// forged with the family's id): refuse, and revoke nothing.
    Unknown,
    /// The live token of a rotating family: issue the next generation.
    Rotate,
    /// The live token of a non-rotating family: it stays valid.
    Keep,
    /// The previous token, inside the overlap window: answer with the same successor.
    ReplaySuccessor,
    /// An older token, or the previous one outside the window: treat as theft, revoke all.
    Reuse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn hash(token: &str) -> SecretHash {
        Secret::new(token).hash()
    }

    fn family(policy: RefreshPolicy) -> RefreshFamily {
        RefreshFamily::new(
            "rtf_1".into(),
            hash("t0"),
            "app",
            "user",
            None,
            vec!["openid".into()],
            &policy,
            1_000,
        )
    }

    fn rotation(token: &str, sealed: bool) -> Option<Rotation> {
        Some(Rotation {
            token_hash: hash(token),
            sealed_successor: sealed.then(|| vec![1]),
        })
    }

    #[test]
    fn rotation_reuse_and_overlap() {
        let policy = RefreshPolicy {
            overlap_secs: 10,
            ..RefreshPolicy::default()
        };
        let zero = family(policy);
        assert_eq!(zero.decide(0, &hash("t0"), 2_000), Exchange::Rotate);
        let one = zero.after_exchange(rotation("t1", true), (None, None), 2_000);
        assert_eq!(one.generation, 1);
        assert_eq!(one.decide(1, &hash("t1"), 3_000), Exchange::Rotate);
        assert_eq!(one.decide(0, &hash("t0"), 3_000), Exchange::ReplaySuccessor);
        assert_eq!(
            one.decide(0, &hash("t0"), 2_000 + 10_001),
            Exchange::Reuse,
            "outside the window"
        );
        let two = one.after_exchange(rotation("t2", true), (None, None), 3_000);
        assert_eq!(
            two.decide(0, &hash("t0"), 3_001),
            Exchange::Reuse,
            "only the immediately previous token"
        );
        assert_eq!(two.decide(1, &hash("t1"), 3_001), Exchange::ReplaySuccessor);
    }

    #[test]
    fn tokens_the_family_never_handed_out_are_unknown_not_reuse() {
        let zero = family(RefreshPolicy::default());
        assert_eq!(zero.decide(1, &hash("t1"), 2_000), Exchange::Unknown);
        assert_eq!(zero.decide(0, &hash("forged"), 2_000), Exchange::Unknown);
    }

    #[test]
    fn without_overlap_every_old_token_is_reuse() {
        let zero = family(RefreshPolicy::default());
        let one = zero.after_exchange(rotation("t1", false), (None, None), 2_000);
        assert_eq!(one.decide(0, &hash("t0"), 2_000), Exchange::Reuse);
    }

    #[test]
    fn non_rotating_tokens_stay_and_expiry_slides() {
        let policy = RefreshPolicy {
            rotating: false,
            idle_lifetime_secs: Some(10),
            ..RefreshPolicy::default()
        };
        let zero = family(policy);
        assert_eq!(zero.idle_expires_at, Some(11_000));
        assert_eq!(zero.decide(0, &hash("t0"), 10_999), Exchange::Keep);
        assert_eq!(zero.decide(0, &hash("t0"), 11_000), Exchange::Dead);
        let later = zero.after_exchange(None, (None, None), 10_000);
        assert_eq!(later.idle_expires_at, Some(20_000));
        assert_eq!(
            later.expires_at, zero.expires_at,
            "the absolute lifetime never slides"
        );
    }

    #[test]
    fn a_sealed_successor_is_dropped_by_the_first_write_after_its_window() {
        let policy = RefreshPolicy {
            overlap_secs: 10,
            ..RefreshPolicy::default()
        };
        let one = family(policy).after_exchange(rotation("t1", true), (None, None), 2_000);
        let inside = one.after_exchange(None, (None, None), 2_000 + 10_000);
        assert!(inside.sealed_successor.is_some());
        let after = one.after_exchange(None, (None, None), 2_000 + 10_001);
        assert_eq!(after.sealed_successor, None);
    }

    #[test]
    fn rules_only_shorten_and_revocation_is_final() {
        let zero = family(RefreshPolicy::default());
        let shortened =
            zero.after_exchange(rotation("t1", false), (Some(5_000), Some(u64::MAX)), 2_000);
        assert_eq!(shortened.expires_at, Some(5_000));
        assert_eq!(
            shortened.idle_expires_at,
            zero.idle_lifetime_ms.map(|ms| 2_000 + ms)
        );
        let revoked = shortened.revoke("stolen", 3_000);
        assert_eq!(revoked.decide(1, &hash("t1"), 3_000), Exchange::Dead);
        assert!(revoked.version > shortened.version);
    }
}
