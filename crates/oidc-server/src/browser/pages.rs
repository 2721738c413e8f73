//! The hosted pages: server-rendered HTML that works without JavaScript, escaped by `maud`,
//! with one small stylesheet (allowed by its hash, so the Content-Security-Policy can forbid
//! everything else), labelled fields in a plain focus order, and contrast above WCAG AA.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use oidc_core::OAuthError;
use oidc_core::login::{ClientRedirect, LoginPage};
use sha2::Digest as _;

const STYLE: &str = "\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f4f6;color:#111827;margin:0}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.375rem;margin:0 0 .25rem}\
p.lead{color:#374151;margin:0 0 1.5rem}\
label{display:block;font-weight:600;margin:1rem 0 .25rem}\
input[type=text],input[type=email],input[type=password]{box-sizing:border-box;width:100%;padding:.625rem .75rem;border:1px solid #6b7280;border-radius:.375rem;font-size:1rem}\
input:focus,button:focus{outline:3px solid #1d4ed8;outline-offset:2px}\
button{margin-top:1.5rem;width:100%;padding:.75rem;border:0;border-radius:.375rem;background:#1d4ed8;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}\
button.secondary{margin-top:.75rem;background:#fff;color:#1d4ed8;border:2px solid #1d4ed8}\
.error{background:#fef2f2;border:1px solid #b91c1c;color:#7f1d1d;padding:.75rem;border-radius:.375rem;margin:0 0 1rem}\
code{font-size:.875rem}\
p.user-code{font:700 1.75rem/1.2 ui-monospace,monospace;letter-spacing:.1em;white-space:nowrap;text-align:center;margin:.5rem 0 1rem}";

/// The only inline script: the form_post page's submit (it also has a button without it).
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

fn csp_hash(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Nothing loads but the page's own style (and, on the form_post page, its one script); no
/// page can be framed (clickjacking a login form).
static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; frame-ancestors 'none'",
        csp_hash(STYLE),
        csp_hash(SUBMIT_SCRIPT)
    )
});

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// A page as a response: never cached, never framed, nothing sniffed.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, axum::response::Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// The hosted login form.
pub(crate) fn login(tenant: &str, action: &str, page: &LoginPage) -> Markup {
    let title = format!("Log in to {tenant}");
    layout(
        &title,
        html! {
            h1 { (title) }
            p.lead { "to continue to " strong { (page.client_name) } }
            @if let Some(error) = &page.error {
                p.error role="alert" id="login-error" { (error) }
            }
            form method="post" action=(action) {
                input type="hidden" name="state" value=(page.transaction);
                input type="hidden" name="_csrf" value=(page.csrf);
                label for="username" { "Email or username" }
                input #username type="text" name="username" autocomplete="username"
                    required autofocus value=(page.login_hint.as_deref().unwrap_or_default())
                    aria-describedby=[page.error.as_ref().map(|_| "login-error")];
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Continue" }
            }
        },
    )
}

/// An error that cannot go back to the client: its redirect URI is not trusted, or the login
/// it belongs to is gone.
pub(crate) fn error(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let markup = layout(
        "Something went wrong",
        html! {
            h1 { "Something went wrong" }
            p.error role="alert" { (error.description) }
            p { "Error code: " code { (error.error.as_str()) } }
            p { "Go back to the application and try again." }
        },
    );
    respond(status, markup)
}

/// `response_mode=form_post`: the browser posts the response to the client; without
/// JavaScript, the user presses the button.
pub(crate) fn form_post(redirect: &ClientRedirect) -> Response {
    let markup = layout(
        "Continue",
        html! {
            form method="post" action=(redirect.redirect_uri) {
                @for (name, value) in &redirect.params {
                    input type="hidden" name=(name) value=(value);
                }
                noscript { p { "JavaScript is off: press Continue to return to the application." } }
                button type="submit" { "Continue" }
            }
            script { (PreEscaped(SUBMIT_SCRIPT)) }
        },
    );
    respond(StatusCode::OK, markup)
}

/// After a logout with nowhere to return to.
pub(crate) fn logged_out(tenant: &str) -> Response {
    let markup = layout(
        "Logged out",
        html! {
            h1 { "You are logged out" }
            p { "You have signed out of " (tenant) ". You can close this window." }
        },
    );
    respond(StatusCode::OK, markup)
}

/// The activation page: where a person types the code their device shows.
pub(crate) fn enter_code(
    tenant: &str,
    action: &str,
    csrf: &str,
    user_code: Option<&str>,
    error: Option<&str>,
) -> Markup {
    layout(
        "Activate your device",
        html! {
            h1 { "Activate your device" }
            p.lead { "Enter the code shown on your device to sign in to " (tenant) "." }
            @if let Some(error) = error {
                p.error role="alert" id="code-error" { (error) }
            }
            form method="post" action=(action) {
                input type="hidden" name="_csrf" value=(csrf);
                label for="user_code" { "Code" }
                input #user_code type="text" name="user_code" autocomplete="off" autocapitalize="characters"
                    spellcheck="false" required autofocus value=(user_code.unwrap_or_default())
                    aria-describedby=[error.map(|_| "code-error")];
                button type="submit" { "Continue" }
            }
        },
    )
}

/// Asks the logged-in user to confirm a device login, showing the code to compare.
pub(crate) fn confirm_device(
    action: &str,
    csrf: &str,
    user_code: &str,
    client_name: &str,
    scope: &[String],
) -> Markup {
    layout(
        "Confirm the device",
        html! {
            h1 { "Confirm the device" }
            p.lead { (client_name) " on your device asks to sign in as you." }
            p { "Check that your device shows this code:" }
            p.user-code { (user_code) }
            @if !scope.is_empty() {
                p { "It asks for: " code { (scope.join(" ")) } }
            }
            form method="post" action=(action) {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="user_code" value=(user_code);
                button type="submit" name="decision" value="confirm" { "Confirm" }
                button.secondary type="submit" name="decision" value="cancel" { "Cancel" }
            }
        },
    )
}

/// A device login is settled.
pub(crate) fn device_done(approved: bool, client_name: &str) -> Markup {
    let title = if approved {
        "Your device is signed in"
    } else {
        "Device login cancelled"
    };
    layout(
        title,
        html! {
            h1 #device-done { (title) }
            @if approved {
                p { (client_name) " is signed in. You can return to your device." }
            } @else {
                p { "Nothing was signed in. You can close this window." }
            }
        },
    )
}
