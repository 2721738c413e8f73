//! Users and their refresh tokens through the management API.

use claimsmith_tests::server::{Reply, TestServer};
use reqwest::Method;
use serde_json::json;

use super::{Api, MANAGER, problem};
use crate::token::{API, OFFLINE, WEB, refresh};

const LEGACY: [(&str, &str); 2] = crate::token::LEGACY;

/// A password login of `username` with `client`, from a user agent.
async fn login_as(
    server: &TestServer,
    client: &[(&str, &str)],
    username: &str,
    password: &str,
    user_agent: &str,
) -> Reply {
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", OFFLINE),
        ("username", username),
        ("password", password),
    ];
    params.extend_from_slice(client);
    let request = server
        .http
        .post(server.url("acme", "oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", user_agent)
        .body(claimsmith_tests::server::form(&params));
    server.send(request).await
}

#[tokio::test]
async fn users_are_created_found_changed_and_deleted_as_auth0_does() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let created = api
        .json(
            Method::POST,
            "users",
            json!({
                "connection": "Username-Password-Authentication",
                "email": "Erin@Acme.test",
                "password": "erin's first password",
                "name": "Erin",
                "app_metadata": {"plan": "gold", "roles": ["editor"]},
                "user_metadata": {"theme": "dark"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.field("user_id");
    assert!(id.starts_with("auth0|") && id.len() == 30, "{id}");
    assert_eq!(created.body["identities"][0]["provider"], json!("auth0"));
    let text = created.body.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );

    // The new user logs in at once.
    let login = login_as(
        &server,
        &WEB,
        "erin@acme.test",
        "erin's first password",
        "t",
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);

    let found = api.get("users-by-email?email=ERIN%40acme.test").await;
    assert_eq!(found.body[0]["user_id"], json!(id));
    assert_eq!(
        api.get("users-by-email?email=nobody%40acme.test")
            .await
            .body,
        json!([])
    );

    let path = format!("users/{}", id.replace('|', "%7C"));
    let patched = api
        .json(
            Method::PATCH,
            &path,
            json!({"app_metadata": {"plan": null, "tier": 2}, "user_metadata": {"lang": "fr"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        patched.body["app_metadata"],
        json!({"roles": ["editor"], "tier": 2})
    );
    assert_eq!(
        patched.body["user_metadata"],
        json!({"theme": "dark", "lang": "fr"})
    );

    let changed = api
        .json(
            Method::PATCH,
            &path,
            json!({"password": "erin's second password"}),
        )
        .await;
    assert_eq!(changed.status, 200);
    let old = login_as(
        &server,
        &WEB,
        "erin@acme.test",
        "erin's first password",
        "t",
    )
    .await;
    assert_eq!(old.error().1, "invalid_grant");
    let new = login_as(
        &server,
        &WEB,
        "erin@acme.test",
        "erin's second password",
        "t",
    )
    .await;
    assert_eq!(new.status, 200);

    for (body, status, phrase) in [
        (
            json!({"email": "alice@acme.test", "password": "long enough pw"}),
            409,
            "already has",
        ),
        (
            json!({"email": "x@acme.test", "password": "short"}),
            400,
            "at least 8",
        ),
        (
            json!({"email": "not-an-email", "password": "long enough pw"}),
            400,
            "not an email",
        ),
        (
            json!({"password": "long enough pw"}),
            400,
            "email or a username",
        ),
        (json!({"email": "y@acme.test"}), 400, "needs a password"),
        (
            json!({"email": "z@acme.test", "password": "long enough pw", "connection": "google"}),
            400,
            "only connection",
        ),
        (
            json!({"email": "z@acme.test", "password": "long enough pw", "surprise": 1}),
            400,
            "field names",
        ),
    ] {
        let reply = api.json(Method::POST, "users", body.clone()).await;
        let (got, _, message) = problem(&reply);
        assert_eq!(got, status, "{body}: {message}");
        assert!(message.contains(phrase), "{body}: {message}");
        assert!(!message.contains("long enough pw"), "{message}");
    }

    let page = api.get("users?per_page=2&page=1&include_totals=true").await;
    assert_eq!(page.body["total"], json!(5), "{}", page.body);
    assert_eq!(page.body["users"].as_array().map(Vec::len), Some(2));

    assert_eq!(api.delete(&path).await.status, 204);
    assert_eq!(problem(&api.get(&path).await).1, "inexistent_user");
    let gone = login_as(
        &server,
        &WEB,
        "erin@acme.test",
        "erin's second password",
        "t",
    )
    .await;
    assert_eq!(gone.error().1, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_are_listed_with_their_device_and_revoked_by_id_or_by_user() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let alice = ("alice@acme.test", "correct horse battery staple");
    let phone = login_as(&server, &WEB, alice.0, alice.1, "Phone/1.0")
        .await
        .field("refresh_token");
    let laptop = login_as(&server, &WEB, alice.0, alice.1, "Laptop/2.0")
        .await
        .field("refresh_token");
    let legacy = login_as(&server, &LEGACY, alice.0, alice.1, "Legacy/3.0")
        .await
        .field("refresh_token");
    // An exchange moves the last-used device and time.
    server.clock.advance_secs(5);
    let phone = {
        let reply = refresh(&server, &WEB, &phone).await;
        reply.field("refresh_token")
    };

    let listed = api.get("users/auth0%7Calice/refresh-tokens").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let tokens = listed.body["tokens"].as_array().expect("tokens").clone();
    assert_eq!(tokens.len(), 3);
    let by_agent = |agent: &str| {
        tokens
            .iter()
            .find(|t| t["device"]["initial_user_agent"] == json!(agent))
            .cloned()
            .expect("a token per device")
    };
    let phone_view = by_agent("Phone/1.0");
    assert_eq!(phone_view["client_id"], json!("web"));
    assert_eq!(phone_view["rotating"], json!(true));
    assert_eq!(
        phone_view["last_exchanged_at"],
        json!("2026-11-27T12:00:05.000Z")
    );
    assert_eq!(phone_view["resource_servers"][0]["audience"], json!(API));
    assert_eq!(by_agent("Legacy/3.0")["rotating"], json!(false));
    let web_only = api
        .get("users/auth0%7Calice/refresh-tokens?client_id=web")
        .await;
    assert_eq!(web_only.body["tokens"].as_array().map(Vec::len), Some(2));

    let laptop_id = by_agent("Laptop/2.0")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        api.get(&format!("refresh-tokens/{laptop_id}")).await.body["id"],
        json!(laptop_id)
    );
    assert_eq!(
        api.delete(&format!("refresh-tokens/{laptop_id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        refresh(&server, &WEB, &laptop).await.error().1,
        "invalid_grant"
    );
    assert_eq!(
        problem(&api.get(&format!("refresh-tokens/{laptop_id}")).await).1,
        "inexistent_refresh_token"
    );

    let credentials = api
        .get("device-credentials?user_id=auth0%7Calice&type=refresh_token")
        .await;
    assert_eq!(
        credentials.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        credentials.body
    );
    assert_eq!(credentials.body[0]["device_name"], json!("Legacy/3.0"));

    let revoked = api
        .delete("users/auth0%7Calice/refresh-tokens?client_id=legacy")
        .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(
        refresh(&server, &LEGACY, &legacy).await.error().1,
        "invalid_grant"
    );
    let still = refresh(&server, &WEB, &phone).await;
    assert_eq!(still.status, 200, "{}", still.body);
}

#[tokio::test]
async fn blocking_or_deleting_a_user_kills_its_refresh_tokens() {
    let server = TestServer::start().await;
    let api = Api::new(&server, &MANAGER).await;
    let carol = ("carol@acme.test", "carol's long password");
    let token = login_as(&server, &WEB, carol.0, carol.1, "t")
        .await
        .field("refresh_token");
    let blocked = api
        .json(
            Method::PATCH,
            "users/auth0%7Ccarol",
            json!({"blocked": true}),
        )
        .await;
    assert_eq!(blocked.body["blocked"], json!(true), "{}", blocked.body);
    assert_eq!(
        refresh(&server, &WEB, &token).await.error().1,
        "invalid_grant"
    );
    // Unblocking does not bring the old tokens back.
    api.json(
        Method::PATCH,
        "users/auth0%7Ccarol",
        json!({"blocked": false}),
    )
    .await;
    assert_eq!(
        refresh(&server, &WEB, &token).await.error().1,
        "invalid_grant"
    );
    let listed = api.get("users/auth0%7Ccarol/refresh-tokens").await;
    assert_eq!(listed.body["tokens"], json!([]));

    let token = login_as(&server, &WEB, carol.0, carol.1, "t")
        .await
        .field("refresh_token");
    assert_eq!(api.delete("users/auth0%7Ccarol").await.status, 204);
    assert_eq!(
        refresh(&server, &WEB, &token).await.error().1,
        "invalid_grant"
    );
}
