//! A browser for tests: keeps the cookies the server sets (checking their attributes), never
//! follows a redirect by itself, and reads the hidden fields of the login form.

use std::collections::BTreeMap;

use claimsmith_tests::server::TestServer;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

#[derive(Debug)]
pub(crate) struct Browser {
    http: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
}

/// One answer: status, `Location`, body, and the raw `Set-Cookie` lines.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The value of a hidden input of the page's form.
    pub(crate) fn hidden(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no hidden {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("a closing quote") + start;
        self.body[start..end].to_owned()
    }

    /// A parameter of the `Location`'s query (or fragment).
    pub(crate) fn location_param(&self, name: &str) -> Option<String> {
        let location = self.location.as_deref()?;
        let (_, query) = location.split_once(['?', '#'])?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }
}

impl Browser {
    pub(crate) fn new() -> Browser {
        claimsmith_tests::http(); // installs the TLS provider
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie_header: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let request = if cookie_header.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie_header.join("; "))
        };
        let response = request.send().await.expect("the server answers");
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ASCII").to_owned())
            .collect();
        for line in &set_cookies {
            let pair = line.split(';').next().expect("a pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        Page {
            status: response.status().as_u16(),
            location: headers
                .get(LOCATION)
                .map(|v| v.to_str().expect("ASCII").to_owned()),
            body: response.text().await.expect("a body"),
            set_cookies,
            headers,
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(url);
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, url: &str, params: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(claimsmith_tests::server::form(params));
        self.send(request).await
    }

    /// `/authorize` of `acme` with `params`.
    pub(crate) async fn authorize(&mut self, server: &TestServer, params: &[(&str, &str)]) -> Page {
        let query = claimsmith_tests::server::form(params);
        self.get(&format!("{}?{query}", server.url("acme", "authorize")))
            .await
    }

    /// Follows the redirect to the login page and submits it as `user`.
    pub(crate) async fn log_in(&mut self, to_login: &Page, user: (&str, &str)) -> Page {
        assert_eq!(to_login.status, 302, "{}", to_login.body);
        let login_url = to_login
            .location
            .clone()
            .expect("a redirect to the login page");
        let page = self.get(&login_url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let action = login_url.split('?').next().expect("a URL").to_owned();
        self.post(
            &action,
            &[
                ("state", &page.hidden("state")),
                ("_csrf", &page.hidden("_csrf")),
                ("username", user.0),
                ("password", user.1),
            ],
        )
        .await
    }
}
