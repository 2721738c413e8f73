//! Who may call the management API: only a tenant's own clients, with a live management
//! token carrying the action's scope.

use claimsmith_tests::server::TestServer;

use super::{Api, MANAGER, READER, problem, token_for};
use crate::token::{ALICE, WEB};

#[tokio::test]
async fn tokens_without_the_right_scope_tenant_or_life_are_refused() {
    let server = TestServer::start().await;
    let manager = Api::new(&server, &MANAGER).await;
    let reader = Api::new(&server, &READER).await;
    assert_eq!(reader.get("rules").await.status, 200);

    let forbidden = reader.delete("rules/rul_any").await;
    assert_eq!(
        problem(&forbidden),
        (
            403,
            "insufficient_scope".into(),
            "Insufficient scope, expected any of: delete:rules".into()
        )
    );
    let forbidden = reader.get("rules-configs").await;
    assert_eq!(problem(&forbidden).1, "insufficient_scope");
    assert_eq!(problem(&reader.get("no-such-thing").await).0, 404);

    let anonymous = server.send(server.http.get(manager.url("rules"))).await;
    assert_eq!(problem(&anonymous).0, 401);
    assert_eq!(problem(&anonymous).1, "missing_authentication");
    assert!(anonymous.headers.contains_key("www-authenticate"));

    let mut tampered = manager.token.clone();
    tampered.insert(tampered.len() / 2 + 3, 'x');
    // Another tenant's management token (globex gets a management API from the seed too).
    let mut checks = vec![("tampered", tampered), ("garbage", "not-a-jwt".into())];
    // A user's token for the same tenant, at the reports API.
    let mut params = vec![
        ("grant_type", "password"),
        ("audience", "https://api.acme.test/"),
        ("scope", "openid read:reports"),
    ];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let user_token = server.token("acme", &params).await.field("access_token");
    checks.push(("user token", user_token));
    for (what, token) in checks {
        let api = Api {
            server: &server,
            tenant: "acme",
            token,
        };
        let reply = api.get("rules").await;
        assert_eq!(
            problem(&reply),
            (401, "invalid_token".into(), "Invalid token".into()),
            "{what}"
        );
    }

    // A token of tenant acme presented at globex.
    let at_globex = Api {
        server: &server,
        tenant: "globex",
        token: manager.token.clone(),
    };
    assert_eq!(problem(&at_globex.get("rules").await).0, 401);

    // Expired: management tokens live 24 hours.
    server.clock.advance_secs(86_401);
    let expired = manager.get("rules").await;
    assert_eq!(problem(&expired).1, "invalid_token");
    let fresh = Api::new(&server, &MANAGER).await;
    assert_eq!(fresh.get("rules").await.status, 200);
}

#[tokio::test]
async fn users_cannot_get_management_tokens() {
    let server = TestServer::start().await;
    let audience = format!("{}api/v2/", server.issuer("acme"));
    let mut params = vec![("grant_type", "password"), ("audience", &audience)];
    params.extend_from_slice(&WEB);
    params.extend_from_slice(&ALICE);
    let reply = server.token("acme", &params).await;
    assert_eq!(reply.error().1, "access_denied", "{}", reply.body);
}

#[tokio::test]
async fn a_client_that_loses_its_grant_loses_access_at_once() {
    let server = TestServer::start().await;
    let token = token_for(&server, "acme", &MANAGER).await;
    let store = server.state.store();
    let mut client = store
        .client("acme", "manager")
        .expect("store")
        .expect("client");
    client.api_grants.clear();
    store.put_client("acme", &client).expect("store");
    let api = Api {
        server: &server,
        tenant: "acme",
        token,
    };
    assert_eq!(problem(&api.get("rules").await).1, "invalid_token");
}
