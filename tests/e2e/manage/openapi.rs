//! The OpenAPI document at `{issuer}api/v2/openapi.json` matches what is served: every
//! documented operation answers (it is routed, and asks for its token), every other method on
//! a documented path is 405, and paths the document does not list are the API's JSON 404.

use claimsmith_tests::server::TestServer;
use oidc_core::manage::tenants::MANAGEMENT_SCOPES;
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `path` with each `{parameter}` replaced by a value no resource has.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push_str("no-such-thing");
        rest = &rest[open + rest[open..].find('}').expect("closed") + 1..];
    }
    out + rest
}

async fn status_and_body(server: &TestServer, method: &str, url: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let reply = server
        .http
        .request(method, url)
        .send()
        .await
        .expect("request");
    let status = reply.status().as_u16();
    let body = reply.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn the_document_matches_the_served_routes() {
    let server = TestServer::start().await;
    let base = server.url("acme", "api/v2");
    let (status, doc) = status_and_body(&server, "get", &format!("{base}/openapi.json")).await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    assert_eq!(
        doc["servers"][0]["url"],
        format!("{}api/v2", server.issuer("acme"))
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 24, "{} paths", paths.len());
    // Code generators need one unique operationId per operation.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| METHODS.iter().filter_map(|m| item.get(*m)))
        .map(|operation| operation["operationId"].as_str().expect("an operationId"))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operationIds: {ids:?}");
    let mut operations = 0;
    for (path, item) in paths {
        let url = format!("{base}{}", concrete(path));
        for method in METHODS {
            let (status, body) = status_and_body(&server, method, &url).await;
            let Some(operation) = item.get(method) else {
                // Not documented: not served either.
                assert_eq!(status, 405, "{method} {path} is served but not documented");
                continue;
            };
            operations += 1;
            if path == "/openapi.json" {
                assert_eq!(status, 200);
                continue;
            }
            // Documented: routed to its handler, which asks for a token first.
            assert_eq!(
                (status, body["errorCode"].as_str()),
                (401, Some("missing_authentication")),
                "{method} {path}: {body}"
            );
            let scopes = operation["security"][0]["bearer"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} names no scope"));
            assert_eq!(scopes.len(), 1, "{method} {path}");
            let scope = scopes[0].as_str().expect("scope");
            assert!(
                MANAGEMENT_SCOPES.contains(&scope),
                "{method} {path} names {scope}, which no management token can carry"
            );
            assert!(operation["responses"]["4XX"].is_object(), "{method} {path}");
        }
    }
    assert!(operations >= 37, "{operations} operations");

    // Paths the document does not list are not served (Auth0 endpoints this API lacks, and
    // deeper paths under served ones).
    for path in [
        "/connections",
        "/roles",
        "/rules/x/y",
        "/users/x/permissions",
        "",
    ] {
        let (status, body) = status_and_body(&server, "get", &format!("{base}{path}")).await;
        assert!(!paths.contains_key(path));
        assert_eq!(
            (status, &body["errorCode"]),
            (404, &Value::from("not_found")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn each_tenant_gets_the_document_with_its_own_server() {
    let server = TestServer::start().await;
    let url = server.url("globex", "api/v2/openapi.json");
    let (status, doc) = status_and_body(&server, "get", &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        doc["servers"][0]["url"],
        format!("{}api/v2", server.issuer("globex"))
    );
    let url = server.url("no-such-tenant", "api/v2/openapi.json");
    let (status, body) = status_and_body(&server, "get", &url).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (404, &Value::from("inexistent_tenant"))
    );
}
