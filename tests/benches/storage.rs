//! Storage under rotation: 16 live chains rotate a million times on a real sled directory,
//! while a family is revoked and replaced every 1,000 rotations and the sweep runs as the
//! server runs it. The directory must stay bounded by the live families, not grow with
//! rotations (before: about 1 KB per rotation, none reclaimed).
//!
//! `cargo xtask bench` (or `cargo bench -p claimsmith-tests --bench storage`);
//! `STORAGE_ROTATIONS` changes the count. The grant runs below HTTP and without rules
//! (`oidc_core::testkit::Harness` on `SledStore`): storage is what is measured.

use std::time::Instant;

use oidc_core::Store as _;
use oidc_core::refresh::lifecycle;
use oidc_core::testkit::Harness;
use oidc_store::SledStore;

const CHAINS: usize = 16;
const SCOPE: &str = "openid offline_access read:things";

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        dir_size(&path)
                    } else {
                        entry.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let rotations: usize = std::env::var("STORAGE_ROTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut h = Harness::with_store(SledStore::open(&data).expect("store"));
    let mut chains: Vec<String> = (0..CHAINS)
        .map(|_| {
            h.login("strict", SCOPE)
                .expect("login")
                .refresh_token
                .expect("offline")
        })
        .collect();
    h.store.flush().expect("flush");
    println!("| rotations | families stored | live | data directory | sled size_on_disk |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let report = |h: &Harness<SledStore>, done: usize| {
        let families = h
            .store
            .refresh_page("acme", None, usize::MAX)
            .expect("page");
        let live = families.iter().filter(|f| f.is_live(h.now)).count();
        println!(
            "| {done} | {} | {live} | {:.2} MB | {:.2} MB |",
            families.len(),
            dir_size(&data) as f64 / 1e6,
            h.store.size_on_disk().unwrap_or(0) as f64 / 1e6
        );
    };
    report(&h, 0);
    let started = Instant::now();
    for i in 0..rotations {
        let chain = i % CHAINS;
        h.now += 1;
        let response = h.refresh("strict", &chains[chain]).expect("rotates");
        chains[chain] = response.refresh_token.expect("rotated");
        if (i + 1) % 1_000 == 0 {
            // Churn: one chain is revoked (a logout) and a new one starts.
            let victim = (i / 1_000) % CHAINS;
            h.revoke("strict", &chains[victim]).expect("revokes");
            chains[victim] = h
                .login("strict", SCOPE)
                .expect("login")
                .refresh_token
                .expect("offline");
        }
        if (i + 1) % 10_000 == 0 {
            let mut after = None;
            loop {
                let page = lifecycle::sweep(&h.store, "acme", after.as_deref(), 1_000, h.now)
                    .expect("sweep");
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            h.store.flush().expect("flush");
        }
        if (i + 1) % (rotations / 10).max(1) == 0 {
            report(&h, i + 1);
        }
    }
    println!();
    println!(
        "{rotations} rotations in {:.1} s ({:.0}/s, ES256, no rules, below HTTP)",
        started.elapsed().as_secs_f64(),
        rotations as f64 / started.elapsed().as_secs_f64()
    );
}
