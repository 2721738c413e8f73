//! The management and operator APIs, over HTTP: tenants manage themselves.

mod access;
mod cli;
mod clients;
mod logs;
mod openapi;
mod operator;
mod rules;
mod rules_try;
mod seed;
mod users;

use claimsmith_tests::server::{Reply, TestServer};
use serde_json::Value;

/// The seed's management client of `acme`, granted every rule scope.
pub(crate) const MANAGER: [(&str, &str); 2] = [
    ("client_id", "manager"),
    ("client_secret", "manager-secret-0123456789-0123456789-ab"),
];
/// The seed's client of `acme` granted only `read:rules`.
pub(crate) const READER: [(&str, &str); 2] = [
    ("client_id", "rule-reader"),
    ("client_secret", "reader-secret-0123456789-0123456789-abc"),
];

/// A management access token of `tenant` for `client`, through `client_credentials`.
pub(crate) async fn token_for(
    server: &TestServer,
    tenant: &str,
    client: &[(&str, &str)],
) -> String {
    let audience = format!("{}api/v2/", server.issuer(tenant));
    let mut params = vec![
        ("grant_type", "client_credentials"),
        ("audience", &audience),
    ];
    params.extend_from_slice(client);
    let reply = server.token(tenant, &params).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.field("access_token")
}

/// A management client: the server, the tenant, and a bearer token.
pub(crate) struct Api<'a> {
    pub(crate) server: &'a TestServer,
    pub(crate) tenant: &'a str,
    pub(crate) token: String,
}

impl<'a> Api<'a> {
    pub(crate) async fn new(server: &'a TestServer, client: &[(&str, &str)]) -> Api<'a> {
        Api {
            server,
            tenant: "acme",
            token: token_for(server, "acme", client).await,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(self.tenant, &format!("api/v2/{path}"))
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        self.server.send(request.bearer_auth(&self.token)).await
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(self.server.http.get(self.url(path))).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(self.server.http.delete(self.url(path))).await
    }

    pub(crate) async fn json(&self, method: reqwest::Method, path: &str, body: Value) -> Reply {
        self.send(self.server.http.request(method, self.url(path)).json(&body))
            .await
    }

    /// Uploads a module as `application/wasm`, with fields in the query.
    pub(crate) async fn upload(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        wasm: &[u8],
    ) -> Reply {
        let request = self
            .server
            .http
            .request(method, self.url(path))
            .query(query)
            .header("content-type", "application/wasm")
            .body(wasm.to_vec());
        self.send(request).await
    }
}

/// `(statusCode, errorCode, message)` of a management error body, checking it is Auth0's
/// shape.
pub(crate) fn problem(reply: &Reply) -> (u16, String, String) {
    assert_eq!(
        reply.body["statusCode"].as_u64(),
        Some(u64::from(reply.status)),
        "{}",
        reply.body
    );
    assert!(reply.body["error"].is_string(), "{}", reply.body);
    (
        reply.status,
        reply.body["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reply.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A `multipart/form-data` body of named parts: `(content type, body)`.
pub(crate) fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "claimsmith-test-boundary-7d9f";
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let filename = if *name == "module" {
            "; filename=\"rule.wasm\"\r\nContent-Type: application/wasm"
        } else {
            ""
        };
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
