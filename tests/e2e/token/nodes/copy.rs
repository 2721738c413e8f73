//! `claimsmith copy` moves a deployment from the embedded store to PostgreSQL: tokens
//! issued on the embedded store keep working at a node on the database.

use super::*;

#[tokio::test]
async fn a_deployment_copied_from_sled_keeps_its_tokens_on_postgres() {
    let dir = deployment_dir(SEED, "http://nodes.test");
    let data = dir.path().join("data");
    let http = claimsmith_tests::http();
    let embedded = Process::start(
        binary(),
        &[
            "--insecure-dev-key".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--seed".as_ref(),
            dir.path().join("seed.toml").as_os_str(),
        ],
    )
    .expect("the embedded node starts");
    let (status, first) = token(&http, &embedded.addr, WEB_CLIENT, &password_grant()).await;
    assert_eq!(status, 200, "{first}");
    let (status, issued) = token(&http, &embedded.addr, WEB_CLIENT, &refresh_grant(&first)).await;
    assert_eq!(status, 200, "{issued}");
    // A response waits for its commit: nothing returned is lost with the process.
    embedded.kill();

    let schema = Schema::new("copy").await;
    let from = format!("sled:{}", data.display());
    let to = schema.store();
    let copy = {
        let (from, to) = (from.clone(), to.clone());
        move || claimsmith_tests::process::run(binary(), &["copy", "--from", &from, "--to", &to])
    };
    let (copied, out, err) = tokio::task::spawn_blocking(copy.clone()).await.unwrap();
    assert!(copied, "{out}{err}");
    assert!(out.starts_with("copied "), "{out}");
    assert!(out.contains("refresh-token families"), "{out}");

    // No seed: everything the node serves came through the copy.
    let node = Process::start(
        binary(),
        &[
            "--insecure-dev-key",
            "--store",
            &to,
            "--watch-every-secs",
            "60",
        ],
    )
    .expect("the node on PostgreSQL starts");
    assert_eq!(userinfo_status(&http, &node.addr, &issued).await, 200);
    let (status, next) = token(&http, &node.addr, WEB_CLIENT, &refresh_grant(&issued)).await;
    assert_eq!(status, 200, "{next}");

    // A second copy would merge two deployments: refused, and the database is untouched.
    let (copied, out, err) = tokio::task::spawn_blocking(copy).await.unwrap();
    assert!(!copied, "{out}");
    assert!(err.contains("already holds tenant"), "{err}");
    let (status, _) = token(&http, &node.addr, WEB_CLIENT, &refresh_grant(&next)).await;
    assert_eq!(status, 200);
}
