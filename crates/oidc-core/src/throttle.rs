//! Brute-force protection for password logins, as Auth0's: after 10 consecutive failures for
//! one login from one IP, that IP is blocked for that login; an IP that fails 100 times across
//! logins (refilling one attempt every 864 s, so 100 a day) is blocked for every login. Both
//! answer 429 `too_many_attempts` before the password is even checked, so a sprayer stops
//! costing Argon2 time. Counted in memory, per node, keyed by tenant; time is a parameter.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::error::OAuthError;
use crate::model::UnixMillis;

/// Limits; the defaults are Auth0's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Off: count nothing, block nothing (benchmarks that must measure raw Argon2 load).
    pub enabled: bool,
    /// Consecutive failures of one login from one IP before that pair is blocked.
    pub max_attempts: u32,
    /// How long such a block lasts.
    pub block_ms: u64,
    /// Failures an IP may spend across logins before it is blocked for all of them.
    pub ip_burst: u32,
    /// One attempt comes back to an IP every this many milliseconds.
    pub ip_refill_ms: u64,
    /// Most counters kept per kind; beyond it, the least worrying are forgotten.
    pub max_entries: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            enabled: true,
            max_attempts: 10,
            block_ms: 3_600_000,
            ip_burst: 100,
            ip_refill_ms: 864_000,
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    failures: u32,
    blocked_until: UnixMillis,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Attempts left, in thousandths (refill is fractional).
    milli_tokens: u64,
    at: UnixMillis,
}

#[derive(Debug, Default)]
struct Counters {
    streaks: HashMap<(String, String, String), Streak>,
    buckets: HashMap<(String, String), Bucket>,
}

/// The throttle. Cheap to share; one lock around two maps.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    counters: Mutex<Counters>,
}

const ACCOUNT_BLOCKED: &str =
    "Your account has been blocked after multiple consecutive login attempts.";
const IP_BLOCKED: &str = "We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator.";

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> LoginThrottle {
        LoginThrottle {
            settings,
            counters: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    fn bucket(&self, bucket: Option<&Bucket>, now: UnixMillis) -> Bucket {
        let full = u64::from(self.settings.ip_burst) * 1000;
        match bucket {
            None => Bucket {
                milli_tokens: full,
                at: now,
            },
            Some(bucket) => {
                let elapsed = now.saturating_sub(bucket.at);
                let refill = elapsed.saturating_mul(1000) / self.settings.ip_refill_ms.max(1);
                Bucket {
                    milli_tokens: bucket.milli_tokens.saturating_add(refill).min(full),
                    at: now,
                }
            }
        }
    }

    /// Refuses a login attempt that brute-force protection blocks, before any password work.
    pub fn check(
        &self,
        tenant: &str,
        login: &str,
        ip: &str,
        now: UnixMillis,
    ) -> Result<(), OAuthError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let streak_key = (tenant.to_owned(), login.to_lowercase(), ip.to_owned());
        if let Some(streak) = counters.streaks.get(&streak_key)
            && streak.blocked_until > now
        {
            let wait = streak.blocked_until.saturating_sub(now).div_ceil(1000);
            return Err(OAuthError::too_many_attempts(ACCOUNT_BLOCKED, wait));
        }
        let bucket = self.bucket(
            counters.buckets.get(&(tenant.to_owned(), ip.to_owned())),
            now,
        );
        if bucket.milli_tokens < 1000 {
            let wait = (1000 - bucket.milli_tokens) * self.settings.ip_refill_ms / 1000;
            return Err(OAuthError::too_many_attempts(
                IP_BLOCKED,
                wait.div_ceil(1000),
            ));
        }
        Ok(())
    }

    /// Counts a failed attempt (wrong password or unknown login).
    pub fn failed(&self, tenant: &str, login: &str, ip: &str, now: UnixMillis) {
        if !self.settings.enabled {
            return;
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let settings = &self.settings;
        let key = (tenant.to_owned(), login.to_lowercase(), ip.to_owned());
        if counters.streaks.len() >= settings.max_entries && !counters.streaks.contains_key(&key) {
            // Forget what matters least: finished blocks and short streaks first.
            shrink(&mut counters.streaks, settings.max_entries, |s| {
                (s.blocked_until > now, s.failures)
            });
        }
        let streak = counters.streaks.entry(key).or_insert(Streak {
            failures: 0,
            blocked_until: 0,
        });
        streak.failures += 1;
        if streak.failures >= settings.max_attempts {
            streak.failures = 0;
            streak.blocked_until = now.saturating_add(settings.block_ms);
        }
        let ip_key = (tenant.to_owned(), ip.to_owned());
        let mut bucket = self.bucket(counters.buckets.get(&ip_key), now);
        bucket.milli_tokens = bucket.milli_tokens.saturating_sub(1000);
        if counters.buckets.len() >= settings.max_entries && !counters.buckets.contains_key(&ip_key)
        {
            // Forget the IPs with the least debt.
            let refill_ms = settings.ip_refill_ms.max(1);
            shrink(&mut counters.buckets, settings.max_entries, |b| {
                std::cmp::Reverse(b.milli_tokens + now.saturating_sub(b.at) * 1000 / refill_ms)
            });
        }
        counters.buckets.insert(ip_key, bucket);
    }

    /// A successful login ends the streak of failures for that login and IP.
    pub fn succeeded(&self, tenant: &str, login: &str, ip: &str) {
        if !self.settings.enabled {
            return;
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        counters
            .streaks
            .remove(&(tenant.to_owned(), login.to_lowercase(), ip.to_owned()));
    }
}

/// Keeps the half of `map` that scores highest, so a flood of new keys cannot grow it beyond
/// `max` nor flush out the counters that are blocking someone.
fn shrink<K: Clone + Eq + std::hash::Hash, V, S: Ord>(
    map: &mut HashMap<K, V>,
    max: usize,
    score: impl Fn(&V) -> S,
) {
    let mut ranked: Vec<(S, K)> = map.iter().map(|(k, v)| (score(v), k.clone())).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, key) in ranked.into_iter().skip(max / 2) {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn ten_failures_block_one_login_from_one_ip_for_an_hour() {
        let throttle = LoginThrottle::default();
        for i in 0..10 {
            assert!(throttle.check("t", "Alice", "1.1.1.1", i).is_ok());
            throttle.failed("t", "Alice", "1.1.1.1", i);
        }
        let blocked = throttle.check("t", "alice", "1.1.1.1", 10).unwrap_err();
        assert_eq!(
            (blocked.status(), blocked.error.as_str()),
            (429, "too_many_attempts")
        );
        assert_eq!(blocked.retry_after_secs, Some(3600));
        assert!(
            throttle.check("t", "alice", "2.2.2.2", 10).is_ok(),
            "other IPs"
        );
        assert!(
            throttle.check("t", "bob", "1.1.1.1", 10).is_ok(),
            "other logins"
        );
        assert!(
            throttle.check("u", "alice", "1.1.1.1", 10).is_ok(),
            "other tenants"
        );
        assert!(
            throttle
                .check("t", "alice", "1.1.1.1", 60 * MINUTE + 9)
                .is_ok()
        );
    }

    #[test]
    fn a_success_ends_the_streak() {
        let throttle = LoginThrottle::default();
        for i in 0..9 {
            throttle.failed("t", "alice", "1.1.1.1", i);
        }
        throttle.succeeded("t", "alice", "1.1.1.1");
        throttle.failed("t", "alice", "1.1.1.1", 10);
        assert!(throttle.check("t", "alice", "1.1.1.1", 11).is_ok());
    }

    #[test]
    fn a_sprayer_is_blocked_across_logins_and_slowly_let_back() {
        let throttle = LoginThrottle::default();
        for i in 0..100u64 {
            let login = format!("user{i}");
            assert!(throttle.check("t", &login, "6.6.6.6", i).is_ok());
            throttle.failed("t", &login, "6.6.6.6", i);
        }
        let blocked = throttle.check("t", "anyone", "6.6.6.6", 100).unwrap_err();
        assert_eq!(blocked.error.as_str(), "too_many_attempts");
        assert!(throttle.check("t", "anyone", "7.7.7.7", 100).is_ok());
        assert!(
            throttle
                .check("t", "anyone", "6.6.6.6", 100 + 864_000)
                .is_ok(),
            "one refilled"
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_logins() {
        let throttle = LoginThrottle::new(ThrottleSettings {
            max_entries: 50,
            ip_burst: 1_000_000,
            ..ThrottleSettings::default()
        });
        for i in 0..1_000u64 {
            throttle.failed(
                "t",
                &format!("user{i}"),
                &format!("10.0.{}.{}", i / 256, i % 256),
                i,
            );
        }
        let counters = throttle.counters.lock().unwrap();
        assert!(counters.streaks.len() <= 50 && counters.buckets.len() <= 50);
    }

    #[test]
    fn disabled_counts_nothing() {
        let throttle = LoginThrottle::new(ThrottleSettings {
            enabled: false,
            ..ThrottleSettings::default()
        });
        for i in 0..200 {
            throttle.failed("t", "alice", "1.1.1.1", i);
        }
        assert!(throttle.check("t", "alice", "1.1.1.1", 200).is_ok());
    }
}
