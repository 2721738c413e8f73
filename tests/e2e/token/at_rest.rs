//! Secrets at rest: the operator key guards the data directory, the directory is private, and
//! a sealed successor opens only for the token it replaces and goes with its window.

use std::path::{Path, PathBuf};

use claimsmith_tests::process::{self, Process};
use claimsmith_tests::server::{SEED, TestServer};
use oidc_core::{OperatorKey, RefreshKeys, Secret, Store, SystemEntropy};
use oidc_store::SledStore;

use super::*;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test"))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        }
        out.push(path);
    }
    out
}

fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// A directory with the standard seed and the example rules, and two operator key files.
fn deployment() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = process::deployment_dir(SEED, "http://claimsmith.test");
    let mut keys = Vec::new();
    for name in ["a.key", "b.key"] {
        let (ok, key, _) = process::run(binary(), &["keygen"]);
        assert!(ok);
        let path = dir.path().join(name);
        std::fs::write(&path, key).unwrap();
        keys.push(path);
    }
    let b = keys.pop().unwrap();
    let a = keys.pop().unwrap();
    (dir, a, b)
}

fn serve(dir: &Path, key: &[&str]) -> Result<Process, String> {
    let mut args: Vec<String> = key.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--data".into(),
        dir.join("data").display().to_string(),
        "--seed".into(),
        dir.join("seed.toml").display().to_string(),
    ]);
    Process::start(binary(), &args)
}

async fn login_at(addr: &str) -> serde_json::Value {
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", OFFLINE),
    ];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let response = claimsmith_tests::http()
        .post(format!("{addr}/t/acme/oauth/token"))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh_at(addr: &str, token: &str) -> u16 {
    let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    params.extend_from_slice(&WEB);
    claimsmith_tests::http()
        .post(format!("{addr}/t/acme/oauth/token"))
        .form(&params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_operator_key_guards_the_data_directory_and_can_be_rotated() {
    let (dir, key_a, key_b) = deployment();
    let (a, b) = (key_a.display().to_string(), key_b.display().to_string());

    let refused = serve(dir.path(), &[]).unwrap_err();
    assert!(refused.contains("no operator key"), "{refused}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing was created without a key"
    );

    let server = serve(dir.path(), &["--key-file", &a]).expect("starts with a key");
    let tokens = login_at(&server.addr).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    server.kill();

    // The directory is private, and no private key is in it in the clear.
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for path in files(&data) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    {
        let store = SledStore::open(&data).unwrap();
        let operator = OperatorKey::parse(&std::fs::read_to_string(&key_a).unwrap()).unwrap();
        let stored = store.keys("acme").unwrap();
        assert_eq!(stored.len(), 1);
        assert!(
            stored[0]
                .unwrap("acme", &OperatorKey::insecure_dev())
                .is_err()
        );
        let private = stored[0].unwrap("acme", &operator).unwrap().private_der;
        for path in files(&data).iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(path).unwrap();
            assert!(
                !holds(&bytes, &private[private.len() - 32..]),
                "{} holds the private key",
                path.display()
            );
        }
    }

    for wrong in [vec!["--key-file", b.as_str()], vec!["--insecure-dev-key"]] {
        let refused = serve(dir.path(), &wrong).unwrap_err();
        assert!(refused.contains("another operator key"), "{refused}");
    }

    let (ok, out, err) = process::run(
        binary(),
        &[
            "rekey",
            "--data",
            &data.display().to_string(),
            "--key-file",
            &a,
            "--new-key-file",
            &b,
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("re-encrypted 2 signing key(s) and the deployment secret"),
        "{out}"
    );
    let refused = serve(dir.path(), &["--key-file", &a]).unwrap_err();
    assert!(refused.contains("another operator key"), "{refused}");
    let server = serve(dir.path(), &["--key-file", &b]).expect("starts with the new key");
    assert_eq!(
        refresh_at(&server.addr, &refresh_token).await,
        200,
        "tokens issued under the old key stay valid"
    );
    server.kill();
}

/// The overlap successor used to be sealed under a key kept in the same database, for as long
/// as the family lived: whoever read the data directory could recover live tokens (defect 2).
#[tokio::test]
async fn a_sealed_successor_opens_only_for_the_previous_token_and_goes_with_the_window() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let second = refresh(&server, &WEB, &first).await.field("refresh_token");
    // Everything at rest, the operator key included: the attacker's best case.
    let secret = oidc_core::vault::deployment_secret(
        server.store.as_ref(),
        &OperatorKey::insecure_dev(),
        &mut SystemEntropy,
    )
    .unwrap();
    let keys = RefreshKeys::derive(&secret);
    let families = server.store.refresh_page("acme", None, 10).unwrap();
    let family = families
        .iter()
        .find(|f| f.sealed_successor.is_some())
        .unwrap();
    let sealed = family.sealed_successor.as_deref().unwrap();
    for guess in ["", second.as_str(), family.id.as_str()] {
        assert_eq!(keys.open(sealed, &Secret::new(guess), &family.id), None);
    }
    assert_eq!(
        keys.open(sealed, &Secret::new(first.clone()), &family.id),
        Some(Secret::new(second.clone())),
        "the previous token opens it, as a retry inside the window needs"
    );

    server.clock.advance_secs(11);
    let swept = server.state.sweep_now().await.unwrap();
    assert_eq!(swept.unsealed, 1);
    for family in server.store.refresh_page("acme", None, 100).unwrap() {
        assert_eq!(family.sealed_successor, None, "{}", family.id);
    }
    assert_eq!(refresh(&server, &WEB, &second).await.status, 200);
}
