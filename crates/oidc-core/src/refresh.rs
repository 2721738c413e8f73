//! Refresh-token families and the rotation policy, as pure decisions over stored state.
//!
//! A *family* is everything descended from one issuance. Each exchange of a rotating family
//! moves it to the next *generation*; the store keeps an index from every token hash ever
//! issued to its family and generation, so presenting an old token is recognised as reuse.

use serde::{Deserialize, Serialize};

use crate::model::{RefreshPolicy, UnixMillis};

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
    /// When the live generation was issued.
    pub rotated_at: UnixMillis,
    /// The live token, sealed, kept while the overlap window is open so that a retry of the
    /// previous token gets the same successor.
    pub sealed_successor: Option<Vec<u8>>,
    pub revoked: Option<Revocation>,
    /// Bumped on every write: the store's compare-and-swap checks it, so two concurrent
    /// exchanges cannot both advance the family.
    pub version: u64,
}

/// Why and when a family died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub at: UnixMillis,
    pub reason: String,
}

impl RefreshFamily {
    /// A new family at generation 0, per the client's policy.
    pub fn new(
        id: String,
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
            rotated_at: now,
            sealed_successor: None,
            revoked: None,
            version: 0,
        }
    }

    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.revoked.is_none()
            && self.expires_at.is_none_or(|at| now < at)
            && self.idle_expires_at.is_none_or(|at| now < at)
    }

    /// What presenting the token of `generation` at `now` means.
    pub fn decide(&self, generation: u64, now: UnixMillis) -> Exchange {
        if !self.is_live(now) {
            return Exchange::Dead;
        }
        if generation == self.generation {
            return if self.rotating {
                Exchange::Rotate
            } else {
                Exchange::Keep
            };
        }
        let previous = self.rotating && generation + 1 == self.generation;
        let in_window = now.saturating_sub(self.rotated_at) <= self.overlap_ms;
        if previous && self.overlap_ms > 0 && in_window && self.sealed_successor.is_some() {
            return Exchange::ReplaySuccessor;
        }
        Exchange::Reuse
    }

    /// The family after a successful exchange: idle expiry slides, and a rotation moves to the
    /// next generation. Rules may shorten either expiry, never lengthen it.
    pub fn after_exchange(
        &self,
        rotate: bool,
        sealed_successor: Option<Vec<u8>>,
        shorten: (Option<UnixMillis>, Option<UnixMillis>),
        now: UnixMillis,
    ) -> RefreshFamily {
        let mut next = self.clone();
        next.last_exchanged_at = Some(now);
        next.idle_expires_at = self.idle_lifetime_ms.map(|ms| now.saturating_add(ms));
        next.shorten(shorten.0, shorten.1);
        if rotate {
            next.generation += 1;
            next.rotated_at = now;
            next.sealed_successor = sealed_successor;
        } else if now.saturating_sub(self.rotated_at) > self.overlap_ms {
            // Keep a sealed successor no longer than its window.
            next.sealed_successor = None;
        }
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
            session_id: None,
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

/// The meaning of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Revoked or expired: refuse.
    Dead,
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

    fn family(policy: RefreshPolicy) -> RefreshFamily {
        RefreshFamily::new(
            "rtf_1".into(),
            "app",
            "user",
            None,
            vec!["openid".into()],
            &policy,
            1_000,
        )
    }

    #[test]
    fn rotation_reuse_and_overlap() {
        let policy = RefreshPolicy {
            overlap_secs: 10,
            ..RefreshPolicy::default()
        };
        let zero = family(policy);
        assert_eq!(zero.decide(0, 2_000), Exchange::Rotate);
        let one = zero.after_exchange(true, Some(vec![1]), (None, None), 2_000);
        assert_eq!(one.generation, 1);
        assert_eq!(one.decide(1, 3_000), Exchange::Rotate);
        assert_eq!(one.decide(0, 3_000), Exchange::ReplaySuccessor);
        assert_eq!(
            one.decide(0, 2_000 + 10_001),
            Exchange::Reuse,
            "outside the window"
        );
        let two = one.after_exchange(true, Some(vec![2]), (None, None), 3_000);
        assert_eq!(
            two.decide(0, 3_001),
            Exchange::Reuse,
            "only the immediately previous token"
        );
        assert_eq!(two.decide(1, 3_001), Exchange::ReplaySuccessor);
    }

    #[test]
    fn without_overlap_every_old_token_is_reuse() {
        let zero = family(RefreshPolicy::default());
        let one = zero.after_exchange(true, None, (None, None), 2_000);
        assert_eq!(one.decide(0, 2_000), Exchange::Reuse);
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
        assert_eq!(zero.decide(0, 10_999), Exchange::Keep);
        assert_eq!(zero.decide(0, 11_000), Exchange::Dead);
        let later = zero.after_exchange(false, None, (None, None), 10_000);
        assert_eq!(later.idle_expires_at, Some(20_000));
        assert_eq!(
            later.expires_at, zero.expires_at,
            "the absolute lifetime never slides"
        );
    }

    #[test]
    fn rules_only_shorten_and_revocation_is_final() {
        let zero = family(RefreshPolicy::default());
        let shortened = zero.after_exchange(true, None, (Some(5_000), Some(u64::MAX)), 2_000);
        assert_eq!(shortened.expires_at, Some(5_000));
        assert_eq!(
            shortened.idle_expires_at,
            zero.idle_lifetime_ms.map(|ms| 2_000 + ms)
        );
        let revoked = shortened.revoke("stolen", 3_000);
        assert_eq!(revoked.decide(1, 3_000), Exchange::Dead);
        assert!(revoked.version > shortened.version);
    }
}
