//! Durability: tokens survive a restart and a crash, revocations stay revoked, and no token is
//! ever stored in the clear.

use claimsmith_tests::process::{Process, deployment_dir};
use claimsmith_tests::server::{SEED, TestServer};

use super::*;

#[tokio::test]
async fn a_restart_keeps_issued_tokens_valid_and_revoked_ones_dead() {
    let server = TestServer::start().await;
    let live = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let dead = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let mut params = vec![("token", dead.as_str())];
    params.extend_from_slice(&WEB);
    assert_eq!(
        server
            .post_form(&server.url("acme", "oauth/revoke"), &params)
            .await
            .status,
        200
    );
    let access = login(&server, &WEB, "openid read:reports")
        .await
        .field("access_token");

    let server = server.restart().await;
    assert_eq!(refresh(&server, &WEB, &live).await.status, 200);
    assert_eq!(refresh(&server, &WEB, &dead).await.status, 403);
    let info = server
        .send(
            server
                .http
                .get(server.url("acme", "userinfo"))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(
        info.status, 200,
        "signing keys survive a restart: {}",
        info.body
    );
}

#[tokio::test]
async fn refresh_tokens_are_never_stored_in_the_clear() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    // A rotation inside the overlap window keeps the successor, sealed.
    let second = refresh(&server, &WEB, &first).await.field("refresh_token");
    server.store.flush().unwrap();
    let mut files = vec![server.data_dir()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for token in [&first, &second] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{} holds a token",
                path.display()
            );
        }
    }
    assert!(scanned > 0);
}

fn spawn(dir: &std::path::Path) -> Process {
    let data = dir.join("data");
    let seed = dir.join("seed.toml");
    Process::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_claimsmith-under-test")),
        &[
            "--insecure-dev-key".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--seed".as_ref(),
            seed.as_os_str(),
        ],
    )
    .expect("the server starts")
}

#[tokio::test]
async fn after_a_crash_nothing_returned_is_lost_and_nothing_revoked_comes_back() {
    let dir = deployment_dir(SEED, "http://claimsmith.test");
    let http = claimsmith_tests::http();
    let token = |addr: &str, params: Vec<(&str, String)>| {
        let request = http
            .post(format!("{addr}/t/acme/oauth/token"))
            .form(&params);
        async move {
            let response = request.send().await.expect("answers");
            let status = response.status().as_u16();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    let client = || {
        vec![
            ("client_id", WEB[0].1.to_owned()),
            ("client_secret", WEB[1].1.to_owned()),
        ]
    };
    let login_params = || {
        let mut params = client();
        params.extend([
            ("grant_type", "password".into()),
            ("audience", API.into()),
            ("scope", OFFLINE.into()),
        ]);
        params.extend(ALICE.iter().map(|(k, v)| (*k, (*v).to_owned())));
        params
    };
    let refresh_params = |token: &str| {
        let mut params = client();
        params.extend([
            ("grant_type", "refresh_token".into()),
            ("refresh_token", token.to_owned()),
        ]);
        params
    };

    let process = spawn(dir.path());
    let (_, first) = token(&process.addr, login_params()).await;
    let first = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = token(&process.addr, refresh_params(&first)).await;
    assert_eq!(status, 200);
    let rotated = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (_, doomed) = token(&process.addr, login_params()).await;
    let doomed = doomed["refresh_token"].as_str().unwrap().to_owned();
    let mut revoke = client();
    revoke.push(("token", doomed.clone()));
    let revoked = http
        .post(format!("{}/t/acme/oauth/revoke", process.addr))
        .form(&revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    process.kill();

    let process = spawn(dir.path());
    let (status, body) = token(&process.addr, refresh_params(&rotated)).await;
    assert_eq!(
        status, 200,
        "a rotated token answered before the crash is still valid: {body}"
    );
    let (status, _) = token(&process.addr, refresh_params(&doomed)).await;
    assert_eq!(status, 403, "a revocation answered before the crash holds");
    process.kill();
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_what_it_issued_survives() {
    let dir = deployment_dir(SEED, "http://claimsmith.test");
    let server = spawn(dir.path());
    let http = claimsmith_tests::http();
    let mut params: Vec<(&str, &str)> = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", OFFLINE),
    ];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let issued: serde_json::Value = http
        .post(format!("{}/t/acme/oauth/token", server.addr))
        .form(&params)
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON");
    let refresh_token = issued["refresh_token"].as_str().expect("a refresh token");
    drop(http);

    // What an orchestrator sends: the server drains, writes its log, flushes, exits 0.
    let (status, logs) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("the server stops");
    assert!(status.success(), "{status:?}\n{logs}");
    assert!(
        logs.contains("stopped: in-flight requests answered"),
        "{logs}"
    );

    let restarted = spawn(dir.path());
    let http = claimsmith_tests::http();
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    params.extend_from_slice(&WEB);
    let exchanged = http
        .post(format!("{}/t/acme/oauth/token", restarted.addr))
        .form(&params)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(exchanged.status().as_u16(), 200);
}
