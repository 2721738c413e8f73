//! The browser's steps through a login: `/authorize`, the hosted page, a rule's redirect and
//! `/continue`, each ending in an [`Answer`] the server turns into a response.

use std::collections::BTreeMap;

use rules_abi::{Protocol, Sso};

use super::authorize::{
    self, AuthorizeError, AuthorizeRequest, ClientRedirect, Prompt, ResponseType,
};
use super::code::{self, Decided};
use super::device::{self, DeviceState};
use super::records::{self, Stored};
use super::session::{self, Current};
use super::transaction::{self, LOGIN_LIFETIME_MS, Pending, Transaction};
use crate::audit::{LogEvent, codes};
use crate::error::{ErrorCode, OAuthError};
use crate::grants::issue::{self, Grant};
use crate::grants::{AUTHORIZATION_CODE, IMPLICIT, TokenContext};
use crate::model::{Client, LoginStamp, User};
use crate::rules::{Interactive, Redirects, RequestInfo};
use crate::scope;
use crate::secret::{self, Entropy, Secret};
use crate::store::{Change, FlowKind};

/// What the server knows of the browser.
#[derive(Debug, Clone, Copy)]
pub struct Browser<'a> {
    /// The `claimsmith_browser` cookie (the server makes one if there is none).
    pub id: &'a Secret,
    /// The session cookie, if sent.
    pub session: Option<&'a str>,
    pub info: &'a RequestInfo,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// To the hosted login page of this transaction.
    Login { transaction: String },
    /// Back to the client, with a code, tokens or an error.
    Client(ClientRedirect),
    /// To a rule's URL (the `state` to come back with is already in it).
    Rule { url: String },
    /// The activation page's form, again with a message after a wrong code.
    EnterCode {
        user_code: Option<String>,
        error: Option<String>,
    },
    /// Ask the logged-in user to confirm the device login (the code is shown, so the user
    /// can check it is the one on the device).
    ConfirmDevice {
        user_code: String,
        client_name: String,
        scope: Vec<String>,
    },
    /// The device login is settled; the user goes back to the device.
    DeviceDone { approved: bool, client_name: String },
}

/// A step, and what changes in the browser's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub step: Step,
    /// A new session cookie value, after a password login.
    pub session_cookie: Option<Secret>,
    /// Whether the store was written: the server makes it durable before answering.
    pub wrote: bool,
}

impl Answer {
    fn step(step: Step) -> Answer {
        Answer {
            step,
            session_cookie: None,
            wrote: false,
        }
    }
}

/// What the hosted login page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPage {
    pub transaction: String,
    pub csrf: String,
    pub client_name: String,
    pub login_hint: Option<String>,
    /// The one failure message, after a failed attempt.
    pub error: Option<String>,
}

/// A submitted login form.
#[derive(Debug, Clone)]
pub struct LoginForm {
    pub transaction: String,
    pub csrf: Option<String>,
    pub username: String,
    pub password: Secret,
    /// The form's other fields, for `context.request.body` (secrets are dropped).
    pub body: BTreeMap<String, String>,
}

/// Why a submitted form did not log the user in.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginFailure {
    /// Show the form again with this message (wrong credentials, throttled, blocked).
    Retry { page: Box<LoginPage>, status: u16 },
    /// The login cannot go on (expired, replayed or forged): an error page.
    Page(OAuthError),
}

impl From<crate::store::StoreError> for LoginFailure {
    fn from(error: crate::store::StoreError) -> Self {
        LoginFailure::Page(error.into())
    }
}

fn expired_login() -> OAuthError {
    OAuthError::invalid_request(
        "This login has expired or was already completed. Go back to the application and sign in again.",
    )
}

fn forged_form() -> OAuthError {
    OAuthError::new(
        ErrorCode::AccessDenied,
        "The form was not sent by this login page (missing or wrong CSRF token). Reload the page and try again.",
    )
}

/// `GET/POST /authorize`.
pub fn authorize(
    ctx: &TokenContext<'_>,
    params: &BTreeMap<String, String>,
    browser: Browser<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let (request, client) = authorize::parse(ctx, params)?;
    let session = session::current(ctx, browser.session)?;
    let usable = match session {
        Some(current)
            if request.prompt != Prompt::Login && fresh_enough(ctx, &request, &current) =>
        {
            let user = ctx
                .store
                .user(&ctx.tenant.id, &current.session().user_id)?
                .filter(|user| !user.blocked);
            user.map(|user| (current, user))
        }
        _ => None,
    };
    if let Some((current, user)) = usable {
        let login = Completion::through_session(&request, &client, &user, &current, browser);
        let answer = complete(ctx, login, entropy);
        if request.prompt == Prompt::None && answer.is_ok() {
            ctx.audit.record(
                LogEvent::new(
                    codes::SUCCESS_SILENT_AUTH,
                    "Successful silent authentication",
                    ctx.now,
                )
                .client(&client.client_id)
                .user(&user.user_id)
                .from(browser.info),
            );
        }
        return answer;
    }
    if request.prompt == Prompt::None {
        ctx.audit.record(
            LogEvent::new(codes::FAILED_SILENT_AUTH, "Login required", ctx.now)
                .client(&client.client_id)
                .from(browser.info),
        );
        let error = OAuthError::new(ErrorCode::LoginRequired, "Login required");
        return Err(AuthorizeError::Client(ClientRedirect::error(
            &request, &error,
        )));
    }
    start_transaction(ctx, request, browser, entropy)
}

/// The anti-forgery token of the activation forms: derived from the browser's HttpOnly id
/// cookie, which another site can neither read nor set, so a forged form cannot carry it.
pub fn activation_csrf(browser: &Secret) -> String {
    use base64::Engine as _;
    let digest = crate::digest::sha256_concat(&[
        b"claimsmith activation form\0",
        browser.expose().as_bytes(),
    ]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// `POST {issuer}activate`: a user code, and with a session the user's decision. Without a
/// session the user logs in first (the login then asks for the decision).
pub fn activate(
    ctx: &TokenContext<'_>,
    (typed, csrf, decision): (&str, Option<&str>, Option<bool>),
    browser: Browser<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let csrf_ok =
        csrf.is_some_and(|csrf| transaction::csrf_matches(&activation_csrf(browser.id), csrf));
    if !csrf_ok {
        return Err(AuthorizeError::Page(forged_form()));
    }
    let ip = browser.info.ip.as_deref().unwrap_or_default();
    let found = match device::find(ctx, typed, ip) {
        Ok(found) => found,
        Err(error) if error.cause.is_some() => return Err(AuthorizeError::Page(error)),
        Err(error) => {
            return Ok(Answer::step(Step::EnterCode {
                user_code: Some(typed.to_owned()),
                error: Some(error.description),
            }));
        }
    };
    let request = found.as_request();
    let Some(client) = ctx.store.client(&ctx.tenant.id, &request.client_id)? else {
        return Err(AuthorizeError::Page(OAuthError::invalid_request(
            "Unknown client.",
        )));
    };
    let session = session::current(ctx, browser.session)?;
    let user = match &session {
        Some(current) => ctx
            .store
            .user(&ctx.tenant.id, &current.session().user_id)?
            .filter(|user| !user.blocked),
        None => None,
    };
    let (Some(current), Some(user)) = (session, user) else {
        return start_transaction(ctx, request, browser, entropy);
    };
    match decision {
        None => Ok(Answer::step(confirm_step(&found))),
        Some(false) => {
            let denied = DeviceState::Denied {
                description: "The user cancelled the device login.".into(),
            };
            device::settle(ctx, &found.device, denied)?;
            Ok(Answer {
                wrote: true,
                ..Answer::step(Step::DeviceDone {
                    approved: false,
                    client_name: found.client_name,
                })
            })
        }
        Some(true) => {
            let login = Completion::through_session(&request, &client, &user, &current, browser);
            let protocol = Protocol::OAuth2DeviceCode;
            complete(ctx, Completion { protocol, ..login }, entropy)
        }
    }
}

fn confirm_step(found: &device::Found) -> Step {
    Step::ConfirmDevice {
        user_code: device::display(&found.record.user_code),
        client_name: found.client_name.clone(),
        scope: found.record.scope.clone(),
    }
}

/// A login waiting for credentials on the hosted page, bound to this browser.
fn start_transaction(
    ctx: &TokenContext<'_>,
    request: AuthorizeRequest,
    browser: Browser<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let id = secret::new_id("tx", entropy);
    let csrf = secret::new_token(entropy).expose().to_owned();
    let transaction = Transaction {
        request,
        browser: browser.id.hash(),
        csrf,
        created_at: ctx.now,
    };
    let expires_at = ctx.now.saturating_add(LOGIN_LIFETIME_MS);
    if !records::create(
        ctx.store,
        &ctx.tenant.id,
        FlowKind::Login,
        &id,
        expires_at,
        &transaction,
    )? {
        return Err(AuthorizeError::Page(OAuthError::server_error()));
    }
    Ok(Answer {
        wrote: true,
        ..Answer::step(Step::Login { transaction: id })
    })
}

/// `max_age`: the session's credentials must be recent enough.
fn fresh_enough(ctx: &TokenContext<'_>, request: &AuthorizeRequest, current: &Current) -> bool {
    request.max_age_secs.is_none_or(|max_age| {
        ctx.now.saturating_sub(current.session().auth_time) <= max_age.saturating_mul(1000)
    })
}

fn protocol_of(request: &AuthorizeRequest) -> Protocol {
    match request.response_type {
        ResponseType::Code => Protocol::OidcBasicProfile,
        ResponseType::IdToken | ResponseType::IdTokenToken => Protocol::OidcImplicitProfile,
    }
}

/// `GET /u/login?state=…`: the page of a transaction, to this browser only.
pub fn login_page(
    ctx: &TokenContext<'_>,
    transaction: &str,
    browser: &Secret,
) -> Result<LoginPage, OAuthError> {
    let Some(Stored { body: tx, .. }) = records::read::<Transaction>(
        ctx.store,
        &ctx.tenant.id,
        FlowKind::Login,
        transaction,
        ctx.now,
    )?
    else {
        return Err(expired_login());
    };
    if !transaction::same_browser(&tx.browser, browser) {
        return Err(expired_login());
    }
    page_of(ctx, transaction, &tx, None)
}

fn page_of(
    ctx: &TokenContext<'_>,
    transaction: &str,
    tx: &Transaction,
    error: Option<&str>,
) -> Result<LoginPage, OAuthError> {
    let client_name = ctx
        .store
        .client(&ctx.tenant.id, &tx.request.client_id)?
        .map(|client| client.name)
        .unwrap_or_default();
    Ok(LoginPage {
        transaction: transaction.to_owned(),
        csrf: tx.csrf.clone(),
        client_name,
        login_hint: tx.request.login_hint.clone(),
        error: error.map(str::to_owned),
    })
}

/// A login whose credentials checked out, ready to finish (see [`finish_login`]): Argon2
/// runs on one lane, rules and tokens on another.
#[derive(Debug, Clone)]
pub struct VerifiedForm {
    transaction: String,
    version: u64,
    tx: Transaction,
    user: User,
    body: BTreeMap<String, String>,
}

/// `POST /u/login`, first half: the form's binding, the throttle, the password.
pub fn verify_login(
    ctx: &TokenContext<'_>,
    form: &LoginForm,
    browser: Browser<'_>,
) -> Result<VerifiedForm, LoginFailure> {
    let tenant = &ctx.tenant.id;
    let Some(Stored { version, body: tx }) = records::read::<Transaction>(
        ctx.store,
        tenant,
        FlowKind::Login,
        &form.transaction,
        ctx.now,
    )?
    else {
        return Err(LoginFailure::Page(expired_login()));
    };
    let csrf_ok = form
        .csrf
        .as_deref()
        .is_some_and(|csrf| transaction::csrf_matches(&tx.csrf, csrf));
    if !csrf_ok || !transaction::same_browser(&tx.browser, browser.id) {
        return Err(LoginFailure::Page(forged_form()));
    }
    let retry = |message: &str, status: u16| -> LoginFailure {
        match page_of(ctx, &form.transaction, &tx, Some(message)) {
            Ok(page) => LoginFailure::Retry {
                page: Box::new(page),
                status,
            },
            Err(error) => LoginFailure::Page(error),
        }
    };
    let username = form.username.trim();
    if crate::ids::username(username).is_err() || form.password.expose().is_empty() {
        return Err(retry("Wrong email or password.", 401));
    }
    let ip = browser.info.ip.as_deref().unwrap_or_default();
    if let Err(blocked) = ctx.throttle.check(tenant, username, ip, ctx.now) {
        ctx.audit.record(
            LogEvent::new(codes::BLOCKED_ACCOUNT, blocked.description.clone(), ctx.now)
                .client(&tx.request.client_id)
                .from(browser.info),
        );
        return Err(retry(&blocked.description, 429));
    }
    let user = crate::grants::password::check_password(ctx, username, &form.password, ip)?;
    let Some(user) = user else {
        ctx.audit.record(
            LogEvent::new(codes::FAILED_LOGIN, "Wrong email or password.", ctx.now)
                .client(&tx.request.client_id)
                .from(browser.info),
        );
        return Err(retry("Wrong email or password.", 401));
    };
    if user.blocked {
        return Err(retry(
            "Your account is blocked. Contact the administrator.",
            401,
        ));
    }
    Ok(VerifiedForm {
        transaction: form.transaction.clone(),
        version,
        tx,
        user,
        body: form.body.clone(),
    })
}

/// `POST /u/login`, second half: the transaction is consumed, the session starts, the rules
/// run, and the browser goes back to the client (or to a rule's URL).
pub fn finish_login(
    ctx: &TokenContext<'_>,
    verified: VerifiedForm,
    browser: Browser<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let VerifiedForm {
        transaction,
        version,
        tx,
        user,
        body,
    } = verified;
    let tenant = &ctx.tenant.id;
    if !records::consume(ctx.store, tenant, FlowKind::Login, &transaction, version)? {
        // A double submit: the first one is logging in.
        return Err(AuthorizeError::Page(expired_login()));
    }
    let Some(client) = ctx.store.client(tenant, &tx.request.client_id)? else {
        return Err(AuthorizeError::Page(OAuthError::invalid_request(
            "Unknown client.",
        )));
    };
    let previous = session::current(ctx, browser.session)?;
    let (current, cookie) = session::start(ctx, &user.user_id, previous.as_ref(), entropy)?;
    if let Some(device) = &tx.request.device {
        // A device login: the password login counts now; the user confirms next.
        let stamp = crate::model::MetadataUpdate {
            login: Some(LoginStamp {
                at: ctx.now,
                ip: browser.info.ip.clone(),
            }),
            ..Default::default()
        };
        ctx.store.apply(
            tenant,
            &Change {
                metadata: Some((&user.user_id, &stamp)),
                ..Change::default()
            },
        )?;
        let found = device::find_by_id(ctx, device)?
            .ok_or_else(|| AuthorizeError::Page(device::invalid_code()))?;
        return Ok(Answer {
            step: confirm_step(&found),
            session_cookie: Some(cookie),
            wrote: true,
        });
    }
    let protocol = protocol_of(&tx.request);
    let mut answer = complete(
        ctx,
        Completion {
            request: &tx.request,
            client: &client,
            user: &user,
            session: &current,
            password_login: true,
            protocol,
            original_protocol: None,
            body: &body,
            browser,
        },
        entropy,
    )
    .or_else(|error| match error {
        // The session stands even if rules refused (Auth0's behaviour): the cookie is set.
        AuthorizeError::Client(redirect) => Ok(Answer {
            step: Step::Client(redirect),
            session_cookie: None,
            wrote: true,
        }),
        page => Err(page),
    })?;
    let refused = match &answer.step {
        Step::Client(redirect) => redirect
            .params
            .iter()
            .find(|(name, _)| name == "error_description")
            .map(|(_, description)| description.clone()),
        _ => None,
    };
    let event = match refused {
        Some(description) => LogEvent::new(codes::FAILED_LOGIN, description, ctx.now),
        None => LogEvent::new(codes::SUCCESS_LOGIN, "Success Login", ctx.now),
    };
    ctx.audit.record(
        event
            .client(&client.client_id)
            .user(&user.user_id)
            .from(browser.info),
    );
    answer.session_cookie = Some(cookie);
    answer.wrote = true;
    Ok(answer)
}

/// `GET/POST /continue?state=…`: back from a rule's redirect. The state is single-use and
/// bound to the browser; the chain runs again with `redirect-callback`.
pub fn resume(
    ctx: &TokenContext<'_>,
    state: &str,
    query: &BTreeMap<String, String>,
    browser: Browser<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let bad_state = || {
        AuthorizeError::Page(OAuthError::invalid_request(
            "The state is invalid, expired or was already used.",
        ))
    };
    let tenant = &ctx.tenant.id;
    let id = records::digest(&Secret::new(state));
    let Some(Stored {
        version,
        body: pending,
    }) = records::read::<Pending>(ctx.store, tenant, FlowKind::Login, &id, ctx.now)?
    else {
        return Err(bad_state());
    };
    if !transaction::same_browser(&pending.browser, browser.id) {
        return Err(bad_state());
    }
    if !records::consume(ctx.store, tenant, FlowKind::Login, &id, version)? {
        return Err(bad_state());
    }
    let request = &pending.request;
    let login_required = || {
        let error = OAuthError::new(ErrorCode::LoginRequired, "Login required");
        AuthorizeError::Client(ClientRedirect::error(request, &error))
    };
    let session = session::current(ctx, browser.session)?
        .filter(|current| {
            current.sid == pending.sid && current.session().user_id == pending.user_id
        })
        .ok_or_else(login_required)?;
    let user = ctx
        .store
        .user(tenant, &pending.user_id)?
        .filter(|user| !user.blocked)
        .ok_or_else(login_required)?;
    let Some(client) = ctx.store.client(tenant, &request.client_id)? else {
        return Err(AuthorizeError::Page(OAuthError::invalid_request(
            "Unknown client.",
        )));
    };
    let mut answer = complete(
        ctx,
        Completion {
            request,
            client: &client,
            user: &user,
            session: &session,
            password_login: false,
            protocol: Protocol::RedirectCallback,
            original_protocol: Some(Protocol::parse(&pending.protocol)),
            body: query,
            browser,
        },
        entropy,
    )?;
    answer.wrote = true;
    Ok(answer)
}

/// A login to finish: who, through which session, how.
struct Completion<'a> {
    request: &'a AuthorizeRequest,
    client: &'a Client,
    user: &'a User,
    session: &'a Current,
    /// The user entered a password now (counted in `loginsCount`), rather than arriving with
    /// a session or coming back from a redirect.
    password_login: bool,
    protocol: Protocol,
    original_protocol: Option<Protocol>,
    /// What rules see as the request's parameters besides the `/authorize` query.
    body: &'a BTreeMap<String, String>,
    browser: Browser<'a>,
}

/// No form fields: a login through the session, or a device confirmation.
static NO_BODY: BTreeMap<String, String> = BTreeMap::new();

impl<'a> Completion<'a> {
    /// A login through an existing session, with the protocol of the request's response type.
    fn through_session(
        request: &'a AuthorizeRequest,
        client: &'a Client,
        user: &'a User,
        session: &'a Current,
        browser: Browser<'a>,
    ) -> Completion<'a> {
        Completion {
            request,
            client,
            user,
            session,
            password_login: false,
            protocol: protocol_of(request),
            original_protocol: None,
            body: &NO_BODY,
            browser,
        }
    }
}

/// Runs the rules for a login, then answers the client: a code, tokens, an error, or a rule's
/// redirect.
fn complete(
    ctx: &TokenContext<'_>,
    login: Completion<'_>,
    entropy: &mut dyn Entropy,
) -> Result<Answer, AuthorizeError> {
    let request = login.request;
    let device = request.device.as_deref();
    // A device has no redirect URI: its errors are shown to the user (and reach the device
    // through its polling).
    let to_client = |error: OAuthError| match device {
        Some(_) => AuthorizeError::Page(error),
        None => AuthorizeError::Client(ClientRedirect::error(request, &error)),
    };
    let api = crate::grants::client_credentials::api_named(ctx, request.audience.as_deref())
        .map_err(to_client)?;
    let session = login.session.session();
    let interactive = Interactive {
        session_id: login.session.sid.clone(),
        sso: Sso {
            with_auth0: !login.password_login,
            with_dbconn: true,
            current_clients: session.clients.clone(),
        },
        methods: session.methods(),
        query: request.query.clone(),
        original_protocol: login.original_protocol.clone(),
    };
    let grant_type = match (device, request.response_type) {
        (Some(_), _) => device::DEVICE_CODE_GRANT,
        (None, ResponseType::Code) => AUTHORIZATION_CODE,
        (None, _) => IMPLICIT,
    };
    let grant = Grant {
        interactive: Some(&interactive),
        nonce: request.nonce.as_deref(),
        sid: Some(&login.session.sid),
        ..Grant::token_endpoint(
            login.client,
            login.user,
            api.as_ref(),
            request.scope.clone(),
            login.protocol.clone(),
            grant_type,
            session.auth_time,
        )
    };
    let redirects = if login.original_protocol.is_some() {
        Redirects::Ignored
    } else {
        Redirects::Allowed
    };
    let mut applied = match issue::run_rules_for(
        ctx,
        (login.body, login.browser.info),
        &grant,
        redirects,
        entropy,
    ) {
        Ok(applied) => applied,
        Err(refusal) => {
            if let Some(device) = device {
                let denied = DeviceState::Denied {
                    description: refusal.error.description.clone(),
                };
                device::settle(ctx, device, denied)?;
            }
            return Err(to_client(refusal.error));
        }
    };
    if login.password_login {
        applied.metadata.login = Some(LoginStamp {
            at: ctx.now,
            ip: login.browser.info.ip.clone(),
        });
    }
    let tenant = &ctx.tenant.id;
    let metadata = Change {
        metadata: (!applied.metadata.is_empty())
            .then_some((login.user.user_id.as_str(), &applied.metadata)),
        ..Change::default()
    };

    if let Some(url) = applied.redirect.clone() {
        if request.prompt == Prompt::None {
            return Err(to_client(OAuthError::new(
                ErrorCode::InteractionRequired,
                "Interaction required",
            )));
        }
        let state = secret::new_token(entropy);
        let pending = Pending {
            request: request.clone(),
            browser: login.browser.id.hash(),
            user_id: login.user.user_id.clone(),
            sid: login.session.sid.clone(),
            protocol: login.protocol.as_str().to_owned(),
        };
        let expires_at = ctx.now.saturating_add(LOGIN_LIFETIME_MS);
        if !records::create(
            ctx.store,
            tenant,
            FlowKind::Login,
            &records::digest(&state),
            expires_at,
            &pending,
        )? {
            return Err(AuthorizeError::Page(OAuthError::server_error()));
        }
        if !metadata.is_empty() {
            ctx.store.apply(tenant, &metadata)?;
        }
        let separator = if url.contains('?') { '&' } else { '?' };
        let encoded = form_urlencoded::Serializer::new(String::new())
            .append_pair("state", state.expose())
            .finish();
        return Ok(Answer {
            wrote: true,
            ..Answer::step(Step::Rule {
                url: format!("{url}{separator}{encoded}"),
            })
        });
    }

    session::touch(ctx, login.session, &login.client.client_id)?;
    if let Some(device) = device {
        let approved = DeviceState::Approved {
            user_id: login.user.user_id.clone(),
            sid: login.session.sid.clone(),
            auth_time: session.auth_time,
            decided: Decided::of(&applied),
        };
        if !device::settle(ctx, device, approved)? {
            return Err(AuthorizeError::Page(device::invalid_code()));
        }
        if !metadata.is_empty() {
            ctx.store.apply(tenant, &metadata)?;
        }
        return Ok(Answer {
            wrote: true,
            ..Answer::step(Step::DeviceDone {
                approved: true,
                client_name: login.client.name.clone(),
            })
        });
    }
    let mut params = Vec::new();
    let change = match request.response_type {
        ResponseType::Code => {
            let code = code::issue(
                ctx,
                request,
                (&login.user.user_id, &login.session.sid, session.auth_time),
                Decided::of(&applied),
                entropy,
            )?;
            params.push(("code".to_owned(), code.expose().to_owned()));
            metadata
        }
        ResponseType::IdToken | ResponseType::IdTokenToken => {
            let with_access = request.response_type == ResponseType::IdTokenToken;
            params.extend(implicit_tokens(ctx, &grant, &applied, with_access)?);
            Change {
                metadata: metadata.metadata,
                ..issue::change(&grant, &applied)
            }
        }
    };
    if !change.is_empty() {
        ctx.store.apply(tenant, &change)?;
    }
    if let Some(state) = &request.state {
        params.push(("state".to_owned(), state.clone()));
    }
    Ok(Answer {
        wrote: true,
        ..Answer::step(Step::Client(ClientRedirect {
            redirect_uri: request.redirect_uri.clone(),
            mode: request.response_mode,
            params,
        }))
    })
}

/// The implicit flow's tokens: an ID token, with an access token for `id_token token`.
/// Never a refresh token.
fn implicit_tokens(
    ctx: &TokenContext<'_>,
    grant: &Grant<'_>,
    applied: &crate::rules::Applied,
    with_access: bool,
) -> Result<Vec<(String, String)>, OAuthError> {
    let mut params = Vec::new();
    let access_token = if with_access {
        let (token, lifetime_secs) = issue::mint_access(ctx, grant, applied)?;
        params.push(("access_token".to_owned(), token.clone()));
        params.push(("token_type".to_owned(), "Bearer".to_owned()));
        params.push(("expires_in".to_owned(), lifetime_secs.to_string()));
        params.push(("scope".to_owned(), scope::join(&applied.access_scope)));
        Some(token)
    } else {
        None
    };
    let id_token = issue::mint_id(ctx, grant, applied, access_token.as_deref())?;
    params.push(("id_token".to_owned(), id_token));
    Ok(params)
}
