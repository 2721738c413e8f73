//! Real browsers and a certified relying-party library against the interactive flows:
//! headless Chromium (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs),
//! driven over WebDriver with `fantoccini`, and the `openidconnect` crate as the client.
//! A second origin, served by the test (`http://localhost:PORT`, while the server is at
//! `http://127.0.0.1:PORT`), plays the application: its callback, a rule's redirect target,
//! and a single-page app that talks to the token endpoint through CORS.
//!
//! Screenshots of the hosted pages are saved under `target/tmp/browser-screenshots/`.

mod app;
mod flows;
mod relying_party;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use claimsmith_tests::server::TestServer;
use fantoccini::{Client, ClientBuilder, Locator};

pub(crate) const ALICE: (&str, &str) = ("alice@acme.test", "correct horse battery staple");

/// A chromedriver process of this test and a browser session on it; both end when dropped.
pub(crate) struct Chrome {
    pub(crate) client: Client,
    driver: Child,
}

impl std::fmt::Debug for Chrome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chrome").finish_non_exhaustive()
    }
}

impl Chrome {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub(crate) async fn start() -> Chrome {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver is not installed: `apt-get install chromium chromium-driver` \
                 (.ci/run installs both)",
            );
        let stdout = driver.stdout.take().expect("piped stdout");
        let started = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("started successfully"));
        assert!(started, "chromedriver did not start");
        let mut options = serde_json::json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--window-size=900,820",
            ],
        });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = "/usr/bin/chromium".into();
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::rustls()
            .expect("a TLS configuration")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Chrome { client, driver }
    }

    /// Ends the session, which quits the browser, then the driver. (Killing only the driver
    /// would leave the browser running; `Drop` does that much if a test fails first.)
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// Waits for `css` on the current page.
    pub(crate) async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(std::time::Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(error) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("no {css} on {}: {error}\n{page}", self.url().await)
            }
        }
    }

    pub(crate) async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|url| url.to_string())
            .unwrap_or_default()
    }

    /// Fills and submits the hosted login form (which must be on screen).
    pub(crate) async fn log_in(&self, (username, password): (&str, &str)) {
        let field = self.wait_for("#username").await;
        field.send_keys(username).await.expect("typing");
        self.wait_for("#password")
            .await
            .send_keys(password)
            .await
            .expect("typing");
        self.wait_for("button[type=submit]")
            .await
            .click()
            .await
            .expect("submit");
    }

    /// Saves a screenshot of the current page as `{name}.png` for a person to look at.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // The session's browser goes with its driver.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A server whose tenant knows the test application at `app` (its origin) and has the rule
/// that sends `mfa-app` logins to the application's `/mfa` page.
pub(crate) async fn server_for(app: &str) -> TestServer {
    let clients = format!(
        r#"
[[tenant.client]]
client_id = "rp-app"
name = "Relying Party"
type = "public"
auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{app}/callback"]
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}

[[tenant.client]]
client_id = "mfa-app"
name = "Step-up App"
type = "public"
auth_method = "none"
grant_types = ["authorization_code"]
redirect_uris = ["{app}/callback"]

[[tenant.client]]
client_id = "browser-spa"
name = "Browser SPA"
type = "spa"
auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{app}/spa"]
web_origins = ["{app}"]
refresh_token = {{ rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }}

[[tenant.rule]]
name = "step-up"
order = 50
module = "rules/step-up.wasm"
"#
    );
    let step_up = claimsmith_tests::wat_rule_if(
        r#""clientID":"mfa-app""#,
        &format!(r#"{{"redirect":{{"url":"{app}/mfa"}}}}"#),
        "{}",
    );
    let seed = crate::login::seed(&clients);
    TestServer::with_seed(&seed, &[("step-up", step_up)]).await
}
