//! Rules on every issuance: claims filtered, scope narrowed, metadata saved only on success,
//! and each kind of refusal with its Auth0 error.

use claimsmith_tests::server::{TestServer, claims};
use claimsmith_tests::{wat_rule, wat_rule_if};
use serde_json::json;

use super::*;

/// A tenant `id` with the web client, alice, dave (app_metadata.blocked), the reports API and
/// `rules` as (name, module file stem).
fn lab(id: &str, rules: &[(&str, &str)]) -> String {
    let mut seed = format!(
        r#"
[[tenant]]
id = "{id}"
issuer = "{{base}}/t/{id}/"
signing_alg = "EdDSA"
[[tenant.api]]
identifier = "https://api.acme.test/"
name = "Reports"
scopes = ["read:reports", "write:reports"]
allow_offline_access = true
[[tenant.client]]
client_id = "web"
name = "Lab Web"
type = "confidential"
auth_method = "client_secret_post"
secret = "web-secret-0123456789-0123456789-abcdef"
grant_types = ["password", "refresh_token"]
refresh_token = {{ rotating = true, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}
[[tenant.client]]
client_id = "other"
name = "Lab Other"
type = "confidential"
auth_method = "client_secret_basic"
secret = "web-secret-0123456789-0123456789-abcdef"
grant_types = ["password", "refresh_token"]
[[tenant.user]]
user_id = "auth0|alice"
email = "alice@acme.test"
password = "correct horse battery staple"
[[tenant.user]]
user_id = "auth0|dave"
email = "dave@acme.test"
password = "dave's long password"
app_metadata = {{ blocked = true }}
"#
    );
    for (order, (name, module)) in rules.iter().enumerate() {
        seed.push_str(&format!("[[tenant.rule]]\nname = \"{name}\"\norder = {order}\nmodule = \"rules/{module}.wasm\"\n"));
    }
    seed
}

async fn lab_server() -> TestServer {
    let seed = [
        lab(
            "claims",
            &[("spoofer", "spoofer"), ("set-metadata", "set-metadata")],
        ),
        lab(
            "broken",
            &[("set-metadata", "set-metadata"), ("looping", "looping")],
        ),
        lab("terms", &[("redirect-to-terms", "redirect-to-terms")]),
        lab("revoker", &[("revoke", "revoke")]),
        lab("gate", &[("unauthorized", "unauthorized")]),
        lab(
            "blocked",
            &[("deny-blocked-on-refresh", "deny-blocked-on-refresh")],
        ),
        lab(
            "revoke-then-gate",
            &[("revoke", "revoke"), ("unauthorized", "unauthorized")],
        ),
        lab("scoper", &[("scoper", "scoper")]),
        lab("per-client", &[("web-only", "web-only")]),
    ]
    .concat();
    let modules = [
        (
            "spoofer",
            wat_rule(
                "",
                r#"{"accessToken":{"sub":"evil","scope":"admin","https://x.test/ok":1,"https://t.auth0.com/x":1},"idToken":{"email":"spoof@x.test","roles":["root"],"https://x.test/ok":2}}"#,
            ),
        ),
        (
            "set-metadata",
            wat_rule("", r#"{"appMetadata":{"terms_seen":true}}"#),
        ),
        ("looping", wat_rule("(loop $l (br $l))", "{}")),
        (
            "web-only",
            wat_rule_if(
                r#""clientID":"web""#,
                r#"{"idToken":{"https://x.test/web-only":"for web"}}"#,
                "{}",
            ),
        ),
        (
            "scoper",
            wat_rule(
                "",
                r#"{"accessTokenScope":["read:reports","write:reports","delete:everything","profile"]}"#,
            ),
        ),
        (
            "revoke",
            wat_rule(
                "",
                r#"{"revokeRefreshToken":{"reason":"Device reported lost."}}"#,
            ),
        ),
        (
            "unauthorized",
            wat_rule(
                "",
                r#"{"deny":{"error":"unauthorized","description":"[00042] Not today."}}"#,
            ),
        ),
    ];
    TestServer::with_seed(&seed, &modules).await
}

async fn lab_login(
    server: &TestServer,
    tenant: &str,
    user: (&str, &str),
    scope: &str,
) -> claimsmith_tests::server::Reply {
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", scope),
        ("username", user.0),
        ("password", user.1),
    ];
    params.extend_from_slice(&WEB);
    server.token(tenant, &params).await
}

const ALICE_LOGIN: (&str, &str) = ("alice@acme.test", "correct horse battery staple");

#[tokio::test]
async fn restricted_and_reserved_claims_are_dropped_silently() {
    let server = lab_server().await;
    let reply = lab_login(&server, "claims", ALICE_LOGIN, "openid email read:reports").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let access = claims(&reply.field("access_token"));
    assert_eq!(access["sub"], "auth0|alice");
    assert_eq!(access["scope"], "openid email read:reports");
    assert_eq!(access["https://x.test/ok"], 1);
    assert!(access.get("https://t.auth0.com/x").is_none());
    let id = claims(&reply.field("id_token"));
    assert_eq!(
        id["email"], "spoof@x.test",
        "profile claims may be overridden when their scope is granted"
    );
    assert!(id.get("roles").is_none());
    assert_eq!(id["https://x.test/ok"], 2);
}

#[tokio::test]
async fn metadata_is_saved_with_a_successful_issuance_only() {
    let server = lab_server().await;
    assert_eq!(
        lab_login(&server, "claims", ALICE_LOGIN, "openid")
            .await
            .status,
        200
    );
    let saved = server
        .state
        .store()
        .user("claims", "auth0|alice")
        .unwrap()
        .unwrap();
    assert_eq!(saved.app_metadata["terms_seen"], true);

    let failed = lab_login(&server, "broken", ALICE_LOGIN, "openid").await;
    assert_eq!(
        failed.error(),
        (
            403,
            "access_denied",
            "Rule 'looping' failed: fuel limit of 10000000 exceeded."
        )
    );
    let untouched = server
        .state
        .store()
        .user("broken", "auth0|alice")
        .unwrap()
        .unwrap();
    assert!(untouched.app_metadata.get("terms_seen").is_none());
}

#[tokio::test]
async fn a_redirect_on_the_token_endpoint_is_refused() {
    let server = lab_server().await;
    let reply = lab_login(&server, "terms", ALICE_LOGIN, "openid").await;
    assert_eq!(
        reply.error(),
        (
            400,
            "invalid_request",
            "Redirection is not available on /oauth/token endpoint."
        )
    );
}

#[tokio::test]
async fn a_rule_can_revoke_the_refresh_token_being_exchanged() {
    let server = lab_server().await;
    let token = lab_login(&server, "revoker", ALICE_LOGIN, "openid offline_access")
        .await
        .field("refresh_token");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token.as_str()),
    ];
    params.extend_from_slice(&WEB);
    assert_eq!(
        server.token("revoker", &params).await.error(),
        (403, "access_denied", "Device reported lost.")
    );
    assert_eq!(
        server.token("revoker", &params).await.error(),
        (403, "invalid_grant", "Unknown or invalid refresh token.")
    );
}

/// A revocation request outside a refresh exchange used to stop the chain, so a deny after
/// it never ran and tokens were issued (fail open).
#[tokio::test]
async fn a_revoke_request_on_a_login_skips_no_later_rule() {
    let server = lab_server().await;
    assert_eq!(
        lab_login(
            &server,
            "revoke-then-gate",
            ALICE_LOGIN,
            "openid offline_access"
        )
        .await
        .error(),
        (401, "unauthorized", "[00042] Not today.")
    );
}

/// A rule may add scopes the audience's API defines, never others; its scope changes the
/// access token only, so the ID token and the refresh token still follow the granted scope.
#[tokio::test]
async fn rules_add_api_scopes_to_the_access_token_only() {
    let server = lab_server().await;
    let reply = lab_login(
        &server,
        "scoper",
        ALICE_LOGIN,
        "openid offline_access read:reports",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scope"], "read:reports write:reports");
    let access = claims(&reply.field("access_token"));
    assert_eq!(access["scope"], "read:reports write:reports");
    assert_eq!(
        access["aud"], API,
        "without openid in its scope the access token is not for /userinfo"
    );
    assert_eq!(claims(&reply.field("id_token"))["sub"], "auth0|alice");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        (
            "refresh_token",
            reply.body["refresh_token"].as_str().unwrap(),
        ),
    ];
    params.extend_from_slice(&WEB);
    let refreshed = server.token("scoper", &params).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.body["scope"], "read:reports write:reports");
    assert!(refreshed.body["id_token"].is_string());
}

#[tokio::test]
async fn unauthorized_and_access_denied_refusals() {
    let server = lab_server().await;
    assert_eq!(
        lab_login(&server, "gate", ALICE_LOGIN, "openid")
            .await
            .error(),
        (401, "unauthorized", "[00042] Not today.")
    );
    let dave = ("dave@acme.test", "dave's long password");
    let login = lab_login(&server, "blocked", dave, "openid offline_access").await;
    assert_eq!(login.status, 200, "login is unaffected");
    let token = login.field("refresh_token");
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token.as_str()),
    ];
    params.extend_from_slice(&WEB);
    assert_eq!(
        server.token("blocked", &params).await.error(),
        (
            403,
            "access_denied",
            "This account is blocked; sign in again."
        )
    );
}

#[tokio::test]
async fn scopes_by_role_narrows_the_token() {
    let server = TestServer::start().await;
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", API),
        ("scope", "openid read:reports write:reports"),
        ("username", "carol@acme.test"),
        ("password", "carol's long password"),
    ];
    params.extend_from_slice(&WEB);
    let reply = server.token("acme", &params).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["scope"], "openid read:reports",
        "viewers lose write:reports"
    );
    assert_eq!(
        claims(&reply.field("access_token"))["scope"],
        "openid read:reports"
    );
    let _ = json!(null);
}

/// `/userinfo` used to serve the custom claims of the user's latest issuance to any client:
/// client B's token read what rules added for client A (defect 4).
#[tokio::test]
async fn userinfo_serves_each_client_only_what_rules_added_for_it() {
    let server = lab_server().await;
    let web = lab_login(&server, "per-client", ALICE_LOGIN, "openid read:reports").await;
    assert_eq!(
        claims(&web.field("id_token"))["https://x.test/web-only"],
        "for web"
    );
    let other = server
        .send(
            server
                .http
                .post(server.url("per-client", "oauth/token"))
                .basic_auth("other", Some(WEB[1].1))
                .form(&[
                    ("grant_type", "password"),
                    ("audience", API),
                    ("scope", "openid read:reports"),
                    ("username", ALICE_LOGIN.0),
                    ("password", ALICE_LOGIN.1),
                ]),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(
        claims(&other.field("id_token"))
            .get("https://x.test/web-only")
            .is_none()
    );
    let userinfo = |token: String| {
        server.send(
            server
                .http
                .get(server.url("per-client", "userinfo"))
                .bearer_auth(token),
        )
    };
    let for_other = userinfo(other.field("access_token")).await;
    assert_eq!(for_other.status, 200, "{}", for_other.body);
    assert_eq!(for_other.body["sub"], "auth0|alice");
    assert!(
        for_other.body.get("https://x.test/web-only").is_none(),
        "other's token must not read web's claims: {}",
        for_other.body
    );
    let for_web = userinfo(web.field("access_token")).await;
    assert_eq!(for_web.body["https://x.test/web-only"], "for web");
}
