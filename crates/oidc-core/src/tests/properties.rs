//! The refresh state machine under random interleavings of exchange, replay, reuse, revoke,
//! time passing, failed writes and restarts, on the in-memory store. Invariants:
//! - at most one token is ever returned per family and generation;
//! - a revoked family never becomes live again;
//! - the latest token returned for a family that was not revoked stays exchangeable, after a
//!   restart too.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::store::Store;
use crate::testkit::{FailingStore, Failure, Harness, MemoryStore};

const CLIENTS: [&str; 3] = ["web", "strict", "legacy"];

#[derive(Debug, Clone)]
enum Op {
    Login {
        client: usize,
    },
    /// Exchange the chain's latest token (0), the one before (1), or an older one (2+).
    Exchange {
        chain: usize,
        age: usize,
    },
    Revoke {
        chain: usize,
    },
    Advance {
        secs: u64,
    },
    FailNextWrite {
        after: bool,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..CLIENTS.len()).prop_map(|client| Op::Login { client }),
        8 => (0..4usize, 0..3usize).prop_map(|(chain, age)| Op::Exchange { chain, age }),
        1 => (0..4usize).prop_map(|chain| Op::Revoke { chain }),
        2 => (0..15u64).prop_map(|secs| Op::Advance { secs }),
        1 => any::<bool>().prop_map(|after| Op::FailNextWrite { after }),
        1 => Just(Op::Restart),
    ]
}

/// A chain the model follows: its client, family, and every token returned for it in order.
#[derive(Debug)]
struct Chain {
    client: &'static str,
    family_id: String,
    tokens: Vec<String>,
}

/// A new process on the same store: everything lives in the store, nothing in the harness
/// survives but the clock. A planned failure dies with the old process.
fn restart(h: Harness<FailingStore<MemoryStore>>) -> Harness<FailingStore<MemoryStore>> {
    let (now, entropy) = (h.now, h.entropy.clone());
    let mut next = Harness::with_store(FailingStore::new(h.store.inner));
    next.now = now;
    next.entropy = entropy;
    next
}

fn run(ops: Vec<Op>) {
    let mut h = Harness::with_store(FailingStore::new(MemoryStore::new()));
    let mut chains: Vec<Chain> = Vec::new();
    let mut returned: BTreeMap<(String, u64), BTreeSet<String>> = BTreeMap::new();
    let mut ever_revoked: BTreeSet<String> = BTreeSet::new();
    let mut lost_replies = false;
    for op in ops {
        match op {
            Op::Login { client } => {
                let client = CLIENTS[client];
                if let Ok(response) = h.login(client, "openid offline_access read:things") {
                    let token = response.refresh_token.expect("offline access");
                    let id = h.refresh_keys.parse("acme", &token).expect("ours");
                    returned
                        .entry((id.family_id.clone(), id.generation))
                        .or_default()
                        .insert(token.clone());
                    chains.push(Chain {
                        client,
                        family_id: id.family_id,
                        tokens: vec![token],
                    });
                }
            }
            Op::Exchange { chain, age } => {
                let Some(chain) = chains.get_mut(chain) else {
                    continue;
                };
                let Some(index) = chain.tokens.len().checked_sub(1 + age) else {
                    continue;
                };
                let presented = chain.tokens[index].clone();
                if let Ok(response) = h.refresh(chain.client, &presented) {
                    let token = response.refresh_token.unwrap_or(presented);
                    let id = h.refresh_keys.parse("acme", &token).expect("ours");
                    returned
                        .entry((id.family_id, id.generation))
                        .or_default()
                        .insert(token.clone());
                    if chain.tokens.last() != Some(&token) {
                        chain.tokens.push(token);
                    }
                }
            }
            Op::Revoke { chain } => {
                if let Some(chain) = chains.get(chain) {
                    let _ = h.revoke(chain.client, chain.tokens.last().expect("one"));
                }
            }
            Op::Advance { secs } => h.advance_secs(secs),
            Op::FailNextWrite { after } => {
                lost_replies |= after;
                h.store.fail(if after {
                    Failure::After(0)
                } else {
                    Failure::Before(0)
                })
            }
            Op::Restart => h = restart(h),
        }
        for chain in &chains {
            let family = h.store.refresh_family("acme", &chain.family_id).unwrap();
            let revoked = family.is_none_or(|f| f.revoked.is_some());
            if revoked {
                ever_revoked.insert(chain.family_id.clone());
            } else {
                assert!(
                    !ever_revoked.contains(&chain.family_id),
                    "family {} came back to life",
                    chain.family_id
                );
            }
        }
    }
    for ((family, generation), tokens) in &returned {
        assert_eq!(
            tokens.len(),
            1,
            "{family} generation {generation}: {tokens:?}"
        );
    }
    // A restart, then every surviving chain's latest token still works.
    let mut h = restart(h);
    let now = h.now;
    for chain in &chains {
        let Some(family) = h.store.refresh_family("acme", &chain.family_id).unwrap() else {
            continue;
        };
        let latest = chain.tokens.last().expect("one");
        let generation = h
            .refresh_keys
            .parse("acme", latest)
            .expect("ours")
            .generation;
        if !family.is_live(now) {
            continue;
        }
        if family.generation != generation {
            // A rotation committed and its answer was lost (a write reported failed after it
            // was applied): the client never saw the successor. Only a planned failure can
            // do that.
            assert!(
                lost_replies,
                "family {} moved on by itself",
                chain.family_id
            );
            continue;
        }
        assert!(
            h.refresh(chain.client, latest).is_ok(),
            "the latest token of live family {} was refused",
            chain.family_id
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_refresh_state_machine_keeps_its_invariants(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
