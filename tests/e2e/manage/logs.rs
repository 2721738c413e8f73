//! The tenant log: each event type this service logs appears after the action that causes
//! it, with the rules' log lines and failures.

use claimsmith_tests::server::{Reply, TestServer};
use claimsmith_tests::wat_rule;
use oidc_core::testkit::fixtures;
use oidc_core::{Change, FamilyWrite};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, MANAGER, problem};
use crate::token::{LEGACY, OFFLINE, WEB, login, refresh};

const STRICT: [(&str, &str); 2] = [
    ("client_id", "strict"),
    ("client_secret", "strict-secret-0123456789-0123456789-abc"),
];

/// The newest event of `kind`.
async fn newest(api: &Api<'_>, kind: &str) -> Value {
    let reply = api.get(&format!("logs?type={kind}&per_page=1")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body[0].clone()
}

async fn basic_token(server: &TestServer, user: &str, secret: &str) -> Reply {
    let request = server
        .http
        .post(server.url("acme", "oauth/token"))
        .basic_auth(user, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", "https://api.acme.test/"),
        ]);
    server.send(request).await
}

#[tokio::test]
async fn each_event_type_appears_after_the_action_that_causes_it() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;

    // s, with the rules' log lines.
    let ok = login(&server, &WEB, OFFLINE).await;
    let s = newest(&api, "s").await;
    assert_eq!(s["user_id"], json!("auth0|alice"));
    assert_eq!(s["client_id"], json!("web"));
    assert_eq!(s["description"], json!("Success Login"));
    assert_eq!(s["date"], json!("2026-11-27T12:00:00.000Z"));
    let rules = s["details"]["rules"].as_array().expect("rule runs").clone();
    assert_eq!(rules[0]["rule"], json!("add-roles"));
    assert_eq!(rules[0]["log"], json!(["auth0|alice has 2 role(s)"]));
    assert!(rules[0]["fuel_used"].as_u64().unwrap_or_default() > 0);

    // f
    let mut wrong = vec![("grant_type", "password"), ("username", "alice@acme.test")];
    wrong.extend_from_slice(&WEB);
    wrong.push(("password", "not her password"));
    assert_eq!(
        server.token("acme", &wrong).await.error().1,
        "invalid_grant"
    );
    let f = newest(&api, "f").await;
    assert_eq!(f["description"], json!("Wrong email or password."));
    assert_eq!(f["user_name"], json!("alice@acme.test"));

    // sertft, fertft
    let t1 = refresh(&server, &WEB, &ok.field("refresh_token")).await;
    assert_eq!(t1.status, 200);
    assert_eq!(
        newest(&api, "sertft").await["user_id"],
        json!("auth0|alice")
    );
    assert_eq!(
        refresh(&server, &WEB, "made-up").await.error().1,
        "invalid_grant"
    );
    assert_eq!(newest(&api, "fertft").await["client_id"], json!("web"));

    // ferrt: reuse of a rotated token of a client without an overlap window.
    let strict = login(&server, &STRICT, OFFLINE)
        .await
        .field("refresh_token");
    refresh(&server, &STRICT, &strict)
        .await
        .field("refresh_token");
    assert_eq!(
        refresh(&server, &STRICT, &strict).await.error().1,
        "invalid_grant"
    );
    let ferrt = newest(&api, "ferrt").await;
    assert_eq!(ferrt["client_id"], json!("strict"));
    assert_eq!(ferrt["user_id"], json!("auth0|alice"));

    // srrt, through /oauth/revoke and through the API.
    let legacy = login(&server, &LEGACY, OFFLINE)
        .await
        .field("refresh_token");
    let mut revoke = vec![("token", legacy.as_str())];
    revoke.extend_from_slice(&LEGACY);
    assert_eq!(
        server
            .post_form(&server.url("acme", "oauth/revoke"), &revoke)
            .await
            .status,
        200
    );
    assert_eq!(newest(&api, "srrt").await["client_id"], json!("legacy"));

    // seccft, feccft
    let m2m = basic_token(&server, "m2m", "m2m-secret-0123456789-0123456789-abcdefg").await;
    assert_eq!(m2m.status, 200, "{}", m2m.body);
    assert_eq!(newest(&api, "seccft").await["client_id"], json!("m2m"));
    assert_eq!(basic_token(&server, "m2m", "wrong").await.status, 401);
    assert_eq!(newest(&api, "feccft").await["client_id"], json!("m2m"));

    // resource_cleanup: the 200-token cap evicts the oldest family.
    let store = server.state.store();
    for n in 0..200 {
        let family = fixtures::family(
            &format!("rtf_old{n:03}"),
            "auth0|carol",
            "web",
            server_now(&server),
        );
        assert!(
            store
                .apply("acme", &Change::family(FamilyWrite::Create(&family)))
                .expect("store")
        );
    }
    let carol = [
        ("username", "carol@acme.test"),
        ("password", "carol's long password"),
    ];
    let mut params = vec![
        ("grant_type", "password"),
        ("scope", "openid offline_access"),
    ];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&carol);
    assert_eq!(server.token("acme", &params).await.status, 200);
    let cleanup = newest(&api, "resource_cleanup").await;
    assert_eq!(cleanup["user_id"], json!("auth0|carol"));
    assert_eq!(cleanup["details"]["revoked"], json!(1));

    // limit_wc: the eleventh failure of one login from one IP is blocked.
    let mut guess = vec![("grant_type", "password"), ("username", "carol@acme.test")];
    guess.extend_from_slice(&WEB);
    guess.push(("password", "a wrong guess"));
    let mut last = 0;
    for _ in 0..11 {
        last = server.token("acme", &guess).await.status;
    }
    assert_eq!(last, 429);
    assert_eq!(
        newest(&api, "limit_wc").await["user_name"],
        json!("carol@acme.test")
    );

    // Filters, checkpoints and one event by id.
    let by_user = api.get("logs?user_id=auth0%7Ccarol&per_page=100").await;
    assert!(
        by_user
            .body
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["user_id"] == json!("auth0|carol"))
    );
    let oldest = api.get("logs?from=0&take=2").await;
    // The first event is the management client's own token.
    assert_eq!(oldest.body[0]["type"], json!("seccft"), "{}", oldest.body);
    assert_eq!(oldest.body[0]["client_id"], json!("manager"));
    let first_id = oldest.body[0]["log_id"].as_str().expect("id").to_owned();
    let next = api.get(&format!("logs?from={first_id}&take=1")).await;
    assert_eq!(next.body[0]["log_id"], oldest.body[1]["log_id"]);
    assert_eq!(
        api.get(&format!("logs/{first_id}")).await.body["type"],
        json!("seccft")
    );
    assert_eq!(
        problem(&api.get("logs/0000000000000nope").await).1,
        "inexistent_log"
    );
    let totals = api.get("logs?include_totals=true&per_page=2").await;
    assert!(
        totals.body["total"].as_u64().unwrap_or_default() >= 12,
        "{}",
        totals.body
    );
    assert_eq!(problem(&api.get("logs?since=yesterday").await).0, 400);
}

fn server_now(server: &TestServer) -> u64 {
    oidc_server::Clock::now(&*server.clock)
}

#[tokio::test]
async fn a_failing_rule_is_logged_with_its_name_and_the_limit_it_hit() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let created = api
        .upload(
            Method::POST,
            "rules",
            &[("name", "looping")],
            &wat_rule("(loop $l (br $l))", "{}"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(login(&server, &WEB, OFFLINE).await.status, 403);
    let f = newest(&api, "f").await;
    let error = f["details"]["rules"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("looping"), "{f}");
    assert!(
        error.contains("fuel") || error.contains("time limit"),
        "{f}"
    );
}

#[tokio::test]
async fn the_sweep_keeps_thirty_days_of_log_events() {
    use oidc_core::audit::LogEvent;
    let server = TestServer::start().await;
    let now = server_now(&server);
    let day = 86_400_000;
    let events: Vec<LogEvent> = [now - 31 * day, now - 29 * day]
        .iter()
        .zip(0..)
        .map(|(date, n)| {
            let mut event = LogEvent::new("s", format!("{} days old", (now - date) / day), *date);
            event.id = LogEvent::make_id(*date, n);
            event
        })
        .collect();
    server
        .state
        .store()
        .append_logs("acme", &events)
        .expect("store");
    server.state.sweep_now().await.expect("sweep");
    let api = Api::new(&server, &MANAGER).await;
    let kept: Vec<Value> = api
        .get("logs?type=s")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default();
    let descriptions: Vec<&str> = kept
        .iter()
        .filter_map(|e| e["description"].as_str())
        .collect();
    assert_eq!(descriptions, ["29 days old"]);
}
