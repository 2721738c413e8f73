//! CORS for browser apps: the clients' web_origins may call the token endpoint (preflight
//! and request); other origins are refused; discovery and the JWKS are public.

use super::server;

#[tokio::test]
async fn a_listed_origin_passes_the_preflight_and_others_do_not() {
    let server = server().await;
    let token_url = server.url("acme", "oauth/token");
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let allowed = server.send(preflight("https://spa.test")).await;
    assert_eq!(allowed.status, 204);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://spa.test"
    );
    assert!(
        allowed.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        allowed.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Content-Type")
    );
    assert!(
        allowed
            .headers
            .get("access-control-allow-credentials")
            .is_none()
    );

    let refused = server.send(preflight("https://evil.test")).await;
    assert_eq!(refused.status, 403);
    assert!(refused.headers.get("access-control-allow-origin").is_none());

    // The request itself carries the header for a listed origin only.
    let answered = server
        .send(
            server
                .http
                .post(&token_url)
                .header("origin", "https://spa.test")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=refresh_token&client_id=spa-app&refresh_token=nope"),
        )
        .await;
    assert_eq!(answered.status, 403);
    assert_eq!(
        answered.headers["access-control-allow-origin"],
        "https://spa.test"
    );
    let other = server
        .send(
            server
                .http
                .get(server.url("acme", "userinfo"))
                .header("origin", "https://evil.test"),
        )
        .await;
    assert!(other.headers.get("access-control-allow-origin").is_none());

    for path in [".well-known/openid-configuration", ".well-known/jwks.json"] {
        let public = server.send(server.http.get(server.url("acme", path))).await;
        assert_eq!(public.headers["access-control-allow-origin"], "*", "{path}");
    }
}
