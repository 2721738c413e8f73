//! The application on the second origin: a callback page, the page a rule redirects to, and
//! a single-page app that runs code + PKCE and rotates its refresh token through CORS.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::routing::get;

/// The application's origin (`http://localhost:PORT`), and the task serving it.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone)]
struct Config {
    /// The tenant's issuer, set once the server is up (`{issuer}continue`, the SPA's calls).
    issuer: std::sync::Arc<std::sync::OnceLock<String>>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl App {
    pub(crate) async fn start() -> (App, AppIssuer) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("bound").port();
        let config = Config {
            issuer: std::sync::Arc::default(),
        };
        let router = Router::new()
            .route("/callback", get(callback))
            .route("/mfa", get(mfa))
            .route("/spa", get(spa))
            .with_state(config.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (
            App {
                origin: format!("http://localhost:{port}"),
                task,
            },
            AppIssuer(config.issuer),
        )
    }
}

/// Tells the application the issuer, once the server exists.
#[derive(Debug)]
pub(crate) struct AppIssuer(std::sync::Arc<std::sync::OnceLock<String>>);

impl AppIssuer {
    pub(crate) fn set(&self, issuer: String) {
        let _ = self.0.set(issuer);
    }
}

async fn callback(RawQuery(query): RawQuery) -> Html<String> {
    Html(format!(
        r#"<!doctype html><title>Callback</title><h1 id="callback">Back at the application</h1><pre id="query">{}</pre>"#,
        escape(&query.unwrap_or_default())
    ))
}

/// A rule's step-up page: the user "answers" and continues to `{issuer}continue` with the
/// state the rule got.
async fn mfa(State(config): State<Config>, RawQuery(query): RawQuery) -> Html<String> {
    let state = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let issuer = config.issuer.get().cloned().unwrap_or_default();
    Html(format!(
        r#"<!doctype html><title>Step-up</title><h1>Second factor</h1>
<form method="get" action="{issuer}continue">
<input type="hidden" name="state" value="{state}">
<label for="otp">One-time code</label><input id="otp" name="otp" value="123456">
<button id="continue" type="submit">Continue</button></form>"#,
        issuer = escape(&issuer),
        state = escape(&state),
    ))
}

/// A single-page app: PKCE in the browser, the code exchange and two rotations by `fetch`
/// (JSON bodies, so every call is preflighted), then a replay of the first refresh token.
async fn spa(State(config): State<Config>) -> Html<String> {
    let issuer = config.issuer.get().cloned().unwrap_or_default();
    Html(
        SPA.replace("{ISSUER}", &issuer)
            .replace("{AUDIENCE}", super::super::login::API),
    )
}

const SPA: &str = r#"<!doctype html><title>SPA</title><h1>SPA</h1><pre id="result"></pre>
<script>
const issuer = "{ISSUER}", clientId = "browser-spa", redirectUri = location.origin + "/spa";
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
async function token(params) {
  const response = await fetch(issuer + "oauth/token", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(params),
  });
  return {status: response.status, body: await response.json()};
}
function done(result) {
  document.getElementById("result").textContent = JSON.stringify(result);
  document.body.dataset.done = "1";
}
(async () => {
  const query = new URLSearchParams(location.search);
  if (!query.get("code")) {
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    sessionStorage.setItem("verifier", verifier);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const url = new URL(issuer + "authorize");
    url.search = new URLSearchParams({
      client_id: clientId, redirect_uri: redirectUri, response_type: "code", state: "spa-state",
      scope: "openid offline_access read:reports", audience: "{AUDIENCE}",
      code_challenge: challenge, code_challenge_method: "S256",
    });
    location.assign(url);
    return;
  }
  try {
    const first = await token({grant_type: "authorization_code", client_id: clientId,
      code: query.get("code"), redirect_uri: redirectUri, code_verifier: sessionStorage.getItem("verifier")});
    const second = await token({grant_type: "refresh_token", client_id: clientId, refresh_token: first.body.refresh_token});
    const third = await token({grant_type: "refresh_token", client_id: clientId, refresh_token: second.body.refresh_token});
    const replay = await token({grant_type: "refresh_token", client_id: clientId, refresh_token: first.body.refresh_token});
    done({state: query.get("state"), statuses: [first.status, second.status, third.status],
      rotated: new Set([first.body.refresh_token, second.body.refresh_token, third.body.refresh_token]).size === 3,
      replay: replay.body.error});
  } catch (error) {
    done({failed: String(error)});
  }
})();
</script>"#;
