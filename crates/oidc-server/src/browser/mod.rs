//! The browser endpoints of the interactive flows: `/authorize`, the hosted login page at
//! `/u/login` and `/continue` after a rule's redirect. The domain (`oidc_core::login`)
//! decides; this module reads parameters and cookies, runs the domain on the tenant's lanes,
//! makes writes durable, and answers with a redirect, a page or a cookie.

mod pages;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oidc_core::login::{
    self, Answer, AuthorizeError, Browser, ClientRedirect, LoginFailure, LoginForm, Step,
    session::SESSION_COOKIE, transaction::BROWSER_COOKIE,
};
use oidc_core::{OAuthError, RequestInfo, Secret, SystemEntropy};

use crate::paths::{ACTIVATE, AUTHORIZE, CONTINUE, LOGIN, LOGOUT, OIDC_LOGOUT};
use crate::routes::{form, with_token_context};
use crate::state::{AppState, Lane, TenantRuntime};
use crate::tenancy::TenantCtx;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("/{AUTHORIZE}"), get(authorize).post(authorize))
        .route(&format!("/{LOGIN}"), get(login_page).post(login_submit))
        .route(&format!("/{CONTINUE}"), get(resume).post(resume))
        .route(&format!("/{ACTIVATE}"), get(activate_page).post(activate))
        .route(&format!("/{LOGOUT}"), get(logout))
        .route(
            &format!("/{OIDC_LOGOUT}"),
            get(oidc_logout).post(oidc_logout),
        )
}

/// The browser's cookies of this tenant, and whether its id cookie is new.
#[derive(Debug)]
struct Cookies {
    browser: Secret,
    new_browser: bool,
    session: Option<String>,
}

/// A browser id carries 256 bits, like every token.
fn cookies(headers: &HeaderMap) -> Cookies {
    let mut browser = None;
    let mut session = None;
    for header in headers.get_all(header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for cookie in cookie::Cookie::split_parse(text).flatten() {
            match cookie.name() {
                BROWSER_COOKIE if cookie.value().len() >= 43 => {
                    browser = Some(cookie.value().to_owned());
                }
                SESSION_COOKIE => session = Some(cookie.value().to_owned()),
                _ => {}
            }
        }
    }
    match browser {
        Some(id) => Cookies {
            browser: Secret::new(id),
            new_browser: false,
            session,
        },
        None => Cookies {
            browser: oidc_core::secret::new_token(&mut SystemEntropy),
            new_browser: true,
            session,
        },
    }
}

/// An HttpOnly, SameSite=Lax cookie on the tenant's path, Secure under https.
fn set_cookie(
    tenant: &TenantRuntime,
    name: &'static str,
    value: &str,
    max_age_secs: i64,
) -> Option<HeaderValue> {
    let cookie = cookie::Cookie::build((name, value))
        .path(tenant.paths.cookie_path.clone())
        .http_only(true)
        .secure(tenant.paths.secure)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// The request's parameters: the query of a GET, the form body of a POST. Repeated
/// parameters are refused (RFC 6749 §3.1).
async fn parameters(
    method: &Method,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<BTreeMap<String, String>, OAuthError> {
    if method == Method::POST {
        let body = form::read_body(body).await?;
        return form::params(headers, &body);
    }
    let mut params = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::invalid_request(format!(
                "Parameter '{name}' is repeated."
            )));
        }
    }
    Ok(params)
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => pages::error(&OAuthError::invalid_request(
            "The redirect URL is not valid.",
        )),
    }
}

fn to_client(redirect_to: &ClientRedirect) -> Response {
    match redirect_to.location() {
        Some(location) => redirect(&location),
        None => pages::form_post(redirect_to),
    }
}

/// Turns the domain's answer into a response with the cookies it sets.
fn respond(
    tenant: &TenantRuntime,
    cookies: &Cookies,
    answer: Result<Answer, AuthorizeError>,
) -> Response {
    let (mut response, session_cookie) = match answer {
        Ok(answer) => {
            let response = match &answer.step {
                Step::Login { transaction } => {
                    let query = form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", transaction)
                        .finish();
                    redirect(&format!("{}?{query}", tenant.paths.login))
                }
                Step::Client(redirect_to) => to_client(redirect_to),
                Step::Rule { url } => redirect(url),
                Step::EnterCode { user_code, error } => {
                    let markup = pages::enter_code(
                        &tenant.tenant.id,
                        &tenant.paths.activate,
                        &login::activation_csrf(&cookies.browser),
                        user_code.as_deref(),
                        error.as_deref(),
                    );
                    let status = if error.is_some() {
                        StatusCode::BAD_REQUEST
                    } else {
                        StatusCode::OK
                    };
                    pages::respond(status, markup)
                }
                Step::ConfirmDevice {
                    user_code,
                    client_name,
                    scope,
                } => pages::respond(
                    StatusCode::OK,
                    pages::confirm_device(
                        &tenant.paths.activate,
                        &login::activation_csrf(&cookies.browser),
                        user_code,
                        client_name,
                        scope,
                    ),
                ),
                Step::DeviceDone {
                    approved,
                    client_name,
                } => pages::respond(StatusCode::OK, pages::device_done(*approved, client_name)),
            };
            (response, answer.session_cookie)
        }
        Err(AuthorizeError::Client(redirect_to)) => (to_client(&redirect_to), None),
        Err(AuthorizeError::Page(error)) => (pages::error(&error), None),
    };
    let headers = response.headers_mut();
    if cookies.new_browser
        && let Some(value) = set_cookie(
            tenant,
            BROWSER_COOKIE,
            cookies.browser.expose(),
            400 * 86_400,
        )
    {
        headers.append(header::SET_COOKIE, value);
    }
    if let Some(session) = session_cookie {
        let max_age = (login::session::ABSOLUTE_LIFETIME_MS / 1000) as i64;
        if let Some(value) = set_cookie(tenant, SESSION_COOKIE, session.expose(), max_age) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Runs a browser step on the tenant's normal lane, as the browser `cookies` and `info`
/// describe, and makes its writes durable.
async fn step(
    state: &AppState,
    tenant: Arc<TenantRuntime>,
    cookies: &Cookies,
    info: RequestInfo,
    work: impl FnOnce(&oidc_core::TokenContext<'_>, Browser<'_>) -> Result<Answer, AuthorizeError>
    + Send
    + 'static,
) -> Result<Answer, AuthorizeError> {
    let (id, session) = (cookies.browser.clone(), cookies.session.clone());
    let answer = with_token_context(state, tenant, Lane::Normal, move |ctx| {
        let browser = Browser {
            id: &id,
            session: session.as_deref(),
            info: &info,
        };
        work(ctx, browser)
    })
    .await??;
    if answer.wrote {
        state.commit().await.map_err(OAuthError::from)?;
    }
    Ok(answer)
}

/// What a browser request brings: its cookies, its parameters (the query of a GET, the form
/// body of a POST, never repeated) and the facts rules may see. A malformed request is
/// answered with an error page.
#[derive(Debug)]
struct Visit {
    cookies: Cookies,
    params: BTreeMap<String, String>,
    info: RequestInfo,
}

impl Visit {
    /// Takes a required parameter out.
    fn take(&mut self, name: &str) -> Result<String, OAuthError> {
        self.params.remove(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("Missing required parameter: {name}"))
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for Visit {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let query = parts.uri.query().map(str::to_owned);
        let params = parameters(&parts.method, query, &parts.headers, body)
            .await
            .map_err(|error| pages::error(&error))?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |info| info.0);
        Ok(Visit {
            cookies: cookies(&parts.headers),
            params,
            info: form::request_info(&parts.headers, peer),
        })
    }
}

/// `GET/POST {issuer}authorize`.
async fn authorize(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    visit: Visit,
) -> Response {
    let Visit {
        cookies,
        params,
        info,
    } = visit;
    let answer = step(
        &state,
        Arc::clone(&tenant),
        &cookies,
        info,
        move |ctx, browser| login::authorize(ctx, &params, browser, &mut SystemEntropy),
    )
    .await;
    respond(&tenant, &cookies, answer)
}

/// `GET {issuer}u/login?state=…`: the form of a login in progress.
async fn login_page(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    mut visit: Visit,
) -> Response {
    let transaction = match visit.take("state") {
        Ok(transaction) => transaction,
        Err(error) => return pages::error(&error),
    };
    let browser = visit.cookies.browser.clone();
    let page = with_token_context(&state, Arc::clone(&tenant), Lane::Normal, move |ctx| {
        login::login_page(ctx, &transaction, &browser)
    })
    .await;
    match page.and_then(|page| page) {
        Ok(page) => pages::respond(
            StatusCode::OK,
            pages::login(&tenant.tenant.id, &tenant.paths.login, &page),
        ),
        Err(error) => pages::error(&error),
    }
}

/// `POST {issuer}u/login`: the password on the slow lane (Argon2 yields to other work), then
/// the session, the rules and the answer on the normal lane.
async fn login_submit(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    mut visit: Visit,
) -> Response {
    let transaction = match visit.take("state") {
        Ok(transaction) => transaction,
        Err(error) => return pages::error(&error),
    };
    let Visit {
        cookies,
        mut params,
        info,
    } = visit;
    let form = LoginForm {
        transaction,
        csrf: params.remove("_csrf"),
        username: params.remove("username").unwrap_or_default(),
        password: Secret::new(params.remove("password").unwrap_or_default()),
        body: params,
    };
    let (verify_info, browser_id) = (info.clone(), cookies.browser.clone());
    let verified = with_token_context(&state, Arc::clone(&tenant), Lane::Slow, move |ctx| {
        let browser = Browser {
            id: &browser_id,
            session: None,
            info: &verify_info,
        };
        login::verify_login(ctx, &form, browser)
    })
    .await;
    let verified = match verified {
        Ok(Ok(verified)) => verified,
        Ok(Err(LoginFailure::Retry { page, status })) => {
            if status == 429 {
                // A guesser in a loop waits on a sleeping connection, not on a core.
                tokio::time::sleep(state.tarpit()).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
            return pages::respond(
                status,
                pages::login(&tenant.tenant.id, &tenant.paths.login, &page),
            );
        }
        Ok(Err(LoginFailure::Page(error))) | Err(error) => return pages::error(&error),
    };
    let answer = step(
        &state,
        Arc::clone(&tenant),
        &cookies,
        info,
        move |ctx, browser| login::finish_login(ctx, verified, browser, &mut SystemEntropy),
    )
    .await;
    respond(&tenant, &cookies, answer)
}

/// `GET/POST {issuer}continue?state=…`: back from a rule's redirect.
async fn resume(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    mut visit: Visit,
) -> Response {
    let state_param = match visit.take("state") {
        Ok(state_param) => state_param,
        Err(error) => return pages::error(&error),
    };
    let Visit {
        cookies,
        params,
        info,
    } = visit;
    let answer = step(
        &state,
        Arc::clone(&tenant),
        &cookies,
        info,
        move |ctx, browser| login::resume(ctx, &state_param, &params, browser, &mut SystemEntropy),
    )
    .await;
    respond(&tenant, &cookies, answer)
}

/// `GET {issuer}v2/logout`.
async fn logout(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    visit: Visit,
) -> Response {
    end_session(state, tenant, visit, login::logout).await
}

/// `GET/POST {issuer}oidc/logout`.
async fn oidc_logout(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    visit: Visit,
) -> Response {
    end_session(state, tenant, visit, login::oidc_logout).await
}

/// `login::logout` or `login::oidc_logout`: parameters and the session cookie in.
type LogoutStep = fn(
    &oidc_core::TokenContext<'_>,
    &BTreeMap<String, String>,
    Option<&str>,
) -> Result<login::Logout, OAuthError>;

/// Ends the session, makes it durable, clears the cookie, and sends the browser back to an
/// allow-listed URL or shows that the user is logged out.
async fn end_session(
    state: AppState,
    tenant: Arc<TenantRuntime>,
    visit: Visit,
    logout: LogoutStep,
) -> Response {
    let Visit {
        cookies, params, ..
    } = visit;
    let session = cookies.session.clone();
    let outcome = with_token_context(&state, Arc::clone(&tenant), Lane::Normal, move |ctx| {
        logout(ctx, &params, session.as_deref())
    })
    .await
    .and_then(|outcome| outcome);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return pages::error(&error),
    };
    if outcome.ended
        && let Err(error) = state.commit().await
    {
        return pages::error(&error.into());
    }
    let mut response = match &outcome.redirect {
        Some(url) => redirect(url),
        None => pages::logged_out(&tenant.tenant.id),
    };
    if let Some(clear) = set_cookie(&tenant, SESSION_COOKIE, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// `GET {issuer}activate[?user_code=…]`: the form, prefilled from `verification_uri_complete`
/// (the user still submits it: a link alone never approves a device).
async fn activate_page(TenantCtx(tenant): TenantCtx, visit: Visit) -> Response {
    let answer = Ok(Answer {
        step: Step::EnterCode {
            user_code: visit.params.get("user_code").cloned(),
            error: None,
        },
        session_cookie: None,
        wrote: false,
    });
    respond(&tenant, &visit.cookies, answer)
}

/// `POST {issuer}activate`: the code, then (with a session) the decision.
async fn activate(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    visit: Visit,
) -> Response {
    let Visit {
        cookies,
        mut params,
        info,
    } = visit;
    let user_code = params.remove("user_code").unwrap_or_default();
    let csrf = params.remove("_csrf");
    let decision = match params.get("decision").map(String::as_str) {
        Some("confirm") => Some(true),
        Some("cancel") => Some(false),
        _ => None,
    };
    let answer = step(
        &state,
        Arc::clone(&tenant),
        &cookies,
        info,
        move |ctx, browser| {
            let form = (user_code.as_str(), csrf.as_deref(), decision);
            login::activate(ctx, form, browser, &mut SystemEntropy)
        },
    )
    .await;
    respond(&tenant, &cookies, answer)
}
