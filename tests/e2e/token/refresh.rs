//! Refresh tokens: rotation, reuse detection, the overlap window, non-rotating clients,
//! lifetimes, scope narrowing, and concurrent exchanges.

use std::collections::HashSet;
use std::sync::Arc;

use claimsmith_tests::server::{TestServer, claims};

use super::*;

const STRICT: [(&str, &str); 0] = [];

async fn strict_login(server: &TestServer) -> String {
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", OFFLINE),
    ];
    params.extend_from_slice(&ALICE);
    let reply = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .basic_auth("strict", Some("strict-secret-0123456789-0123456789-abc"))
                .form(&params),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.field("refresh_token")
}

async fn strict_refresh(server: &TestServer, token: &str) -> claimsmith_tests::server::Reply {
    server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .basic_auth("strict", Some("strict-secret-0123456789-0123456789-abc"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
        )
        .await
}

#[tokio::test]
async fn rotation_issues_a_new_token_and_rules_rerun() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    server.clock.advance_secs(60);
    let reply = refresh(&server, &WEB, &first).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let second = reply.field("refresh_token");
    assert_ne!(second, first);
    let access = claims(&reply.field("access_token"));
    assert_eq!(access["gty"], "refresh_token");
    assert_eq!(
        access["https://claimsmith.example/protocol"],
        "oauth2-refresh-token"
    );
    let id = claims(&reply.field("id_token"));
    let original_auth_time = id["iat"].as_u64().unwrap() - 60;
    assert_eq!(
        id["auth_time"].as_u64().unwrap(),
        original_auth_time,
        "auth_time is kept across refreshes"
    );
    assert_eq!(reply.body["scope"], OFFLINE);
    // The new token works.
    assert_eq!(refresh(&server, &WEB, &second).await.status, 200);
}

#[tokio::test]
async fn reuse_outside_the_window_revokes_the_whole_family() {
    let server = TestServer::start().await;
    let first = strict_login(&server).await;
    let second = strict_refresh(&server, &first).await.field("refresh_token");
    let reuse = strict_refresh(&server, &first).await;
    assert_eq!(
        reuse.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token.")
    );
    let successor = strict_refresh(&server, &second).await;
    assert_eq!(
        successor.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token."),
        "the family is dead"
    );
    let _ = STRICT;
}

#[tokio::test]
async fn inside_the_overlap_window_the_previous_token_gets_the_same_successor() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let second = refresh(&server, &WEB, &first).await.field("refresh_token");
    server.clock.advance_secs(5);
    let retry = refresh(&server, &WEB, &first).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        retry.field("refresh_token"),
        second,
        "a lost response is retried without forking the family"
    );
    // Past the window, the same retry is reuse: the family dies.
    server.clock.advance_secs(6);
    assert_eq!(refresh(&server, &WEB, &first).await.status, 403);
    assert_eq!(refresh(&server, &WEB, &second).await.status, 403);
}

#[tokio::test]
async fn only_the_immediately_previous_token_may_be_replayed() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let second = refresh(&server, &WEB, &first).await.field("refresh_token");
    let third = refresh(&server, &WEB, &second).await.field("refresh_token");
    assert_eq!(
        refresh(&server, &WEB, &first).await.status,
        403,
        "second-to-last is reuse"
    );
    assert_eq!(refresh(&server, &WEB, &third).await.status, 403);
}

#[tokio::test]
async fn non_rotating_clients_keep_their_token_and_idle_expiry_slides() {
    let server = TestServer::start().await;
    let token = login(&server, &LEGACY, OFFLINE)
        .await
        .field("refresh_token");
    for _ in 0..3 {
        server.clock.advance_secs(500);
        let reply = refresh(&server, &LEGACY, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.body.get("refresh_token").is_none(),
            "non-rotating: no new token"
        );
    }
    // 1,500 s in, past the 600 s idle lifetime had it not slid. Now idle for longer than 600 s:
    server.clock.advance_secs(601);
    assert_eq!(refresh(&server, &LEGACY, &token).await.status, 403);
}

#[tokio::test]
async fn the_absolute_lifetime_does_not_slide() {
    let server = TestServer::start().await;
    let token = login(&server, &LEGACY, OFFLINE)
        .await
        .field("refresh_token");
    for _ in 0..14 {
        server.clock.advance_secs(500);
        assert_eq!(refresh(&server, &LEGACY, &token).await.status, 200);
    }
    // 7,000 s in; the absolute lifetime is 7,200 s from issuance.
    server.clock.advance_secs(300);
    assert_eq!(refresh(&server, &LEGACY, &token).await.status, 403);
}

#[tokio::test]
async fn scope_may_only_narrow() {
    let server = TestServer::start().await;
    let token = login(&server, &WEB, "openid offline_access read:reports")
        .await
        .field("refresh_token");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token.as_str()),
        ("scope", "offline_access read:reports"),
    ];
    params.extend_from_slice(&WEB);
    let narrowed = server.token("acme", &params).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(narrowed.body["scope"], "offline_access read:reports");
    assert!(
        narrowed.body.get("id_token").is_none(),
        "openid was narrowed away"
    );
    let token = narrowed.field("refresh_token");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token.as_str()),
        ("scope", "openid write:reports"),
    ];
    params.extend_from_slice(&WEB);
    let widened = server.token("acme", &params).await;
    assert_eq!(widened.status, 400);
    assert_eq!(widened.body["error"], "invalid_scope");
}

#[tokio::test]
async fn a_refresh_token_works_only_for_its_client() {
    let server = TestServer::start().await;
    let token = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let other = refresh(&server, &LEGACY, &token).await;
    assert_eq!(
        other.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token.")
    );
    assert_eq!(
        refresh(&server, &WEB, &token).await.status,
        200,
        "and the probe did not harm it"
    );
}

#[tokio::test]
async fn fifty_parallel_exchanges_yield_exactly_one_successor() {
    let server = Arc::new(TestServer::start().await);
    let token = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let replies = futures_join_all(&server, &token, 50).await;
    let successors: HashSet<String> = replies
        .iter()
        .map(|reply| reply.field("refresh_token"))
        .collect();
    assert!(
        replies.iter().all(|reply| reply.status == 200),
        "inside the window every retry succeeds"
    );
    assert_eq!(
        successors.len(),
        1,
        "one successor, not a fork: {successors:?}"
    );
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(refresh(&server, &WEB, &successor).await.status, 200);
}

#[tokio::test]
async fn without_overlap_parallel_exchanges_have_one_winner_and_reuse_kills_the_family() {
    let server = Arc::new(TestServer::start().await);
    let first = strict_login(&server).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (server, first) = (Arc::clone(&server), first.clone());
            tokio::spawn(async move { strict_refresh(&server, &first).await })
        })
        .collect();
    let mut successes = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == 200 {
            successes.push(reply.field("refresh_token"));
        } else {
            assert_eq!(
                reply.error(),
                (403, "invalid_grant", "Unknown or invalid refresh token.")
            );
        }
    }
    assert!(successes.len() <= 1, "at most one successor: {successes:?}");
    for successor in successes {
        // The losers presented a rotated token: reuse, so the family (winner included) is dead.
        assert_eq!(strict_refresh(&server, &successor).await.status, 403);
    }
}

async fn futures_join_all(
    server: &Arc<TestServer>,
    token: &str,
    n: usize,
) -> Vec<claimsmith_tests::server::Reply> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (server, token) = (Arc::clone(server), token.to_owned());
            tokio::spawn(async move { refresh(&server, &WEB, &token).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

#[tokio::test]
async fn revoke_kills_the_family_and_answers_200_for_anything() {
    let server = TestServer::start().await;
    let first = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let second = refresh(&server, &WEB, &first).await.field("refresh_token");
    let revoke_url = server.url("acme", "oauth/revoke");
    let mut params = vec![("token", second.as_str())];
    params.extend_from_slice(&WEB);
    let reply = server.post_form(&revoke_url, &params).await;
    assert_eq!((reply.status, &reply.body), (200, &serde_json::Value::Null));
    assert_eq!(refresh(&server, &WEB, &second).await.status, 403);
    assert_eq!(
        refresh(&server, &WEB, &first).await.status,
        403,
        "inside the window too: the family is dead"
    );

    let mut unknown = vec![("token", "not-a-token")];
    unknown.extend_from_slice(&WEB);
    assert_eq!(server.post_form(&revoke_url, &unknown).await.status, 200);
    let wrong_secret = [
        ("token", "x"),
        ("client_id", "web"),
        ("client_secret", "wrong"),
    ];
    assert_eq!(
        server.post_form(&revoke_url, &wrong_secret).await.error().1,
        "invalid_client"
    );
    let missing = server.post_form(&revoke_url, &WEB).await;
    assert_eq!(
        missing.error(),
        (400, "invalid_request", "Missing required parameter: token")
    );
}

#[tokio::test]
async fn another_clients_revoke_request_does_nothing() {
    let server = TestServer::start().await;
    let token = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let mut params = vec![("token", token.as_str())];
    params.extend_from_slice(&LEGACY);
    assert_eq!(
        server
            .post_form(&server.url("acme", "oauth/revoke"), &params)
            .await
            .status,
        200
    );
    assert_eq!(refresh(&server, &WEB, &token).await.status, 200);
}

#[tokio::test]
async fn public_spa_clients_refresh_without_a_secret() {
    let server = TestServer::start().await;
    let token = login(&server, &[("client_id", "spa")], OFFLINE)
        .await
        .field("refresh_token");
    let reply = refresh(&server, &[("client_id", "spa")], &token).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_ne!(reply.field("refresh_token"), token);
}

/// RFC 6749 §2.3.1: a server MUST accept HTTP Basic from any client issued a secret. authlib's
/// `revoke_token` sends Basic whatever the client registered; `web` registered
/// `client_secret_post`, and both methods work at both endpoints.
#[tokio::test]
async fn confidential_clients_may_send_their_secret_by_basic_or_in_the_body() {
    let server = TestServer::start().await;
    let token = login(&server, &WEB, OFFLINE).await.field("refresh_token");
    let basic = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/token"))
                .basic_auth("web", Some(WEB[1].1))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)]),
        )
        .await;
    assert_eq!(basic.status, 200, "{}", basic.body);
    let rotated = basic.field("refresh_token");
    let revoked = server
        .send(
            server
                .http
                .post(server.url("acme", "oauth/revoke"))
                .basic_auth("web", Some(WEB[1].1))
                .form(&[("token", &rotated)]),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(
        refresh(&server, &WEB, &rotated).await.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token."),
        "the Basic revocation took effect"
    );
    // `strict` registered Basic; its secret in the body works as well.
    let strict = [
        ("client_id", "strict"),
        ("client_secret", "strict-secret-0123456789-0123456789-abc"),
    ];
    assert_eq!(login(&server, &strict, OFFLINE).await.status, 200);
}
