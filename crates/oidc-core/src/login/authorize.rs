//! `/authorize` requests: parsed and checked in the order that keeps the client's redirect
//! URI untrusted until it is proven (RFC 6749 §4.1.2.1): an unknown client or an unregistered
//! redirect URI is shown on a page, and only then do errors go back to the client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::grants::client_credentials::api_named;
use crate::grants::password::{known_scopes, offline_allowed};
use crate::grants::{AUTHORIZATION_CODE, IMPLICIT, TokenContext};
use crate::model::{Client, ClientType};
use crate::scope;

/// The `response_type`s the server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    /// `code`: the authorization code flow.
    Code,
    /// `id_token`: implicit, an ID token only.
    IdToken,
    /// `id_token token`: implicit, an ID token and an access token (never a refresh token).
    IdTokenToken,
}

impl ResponseType {
    pub const SUPPORTED: [&str; 3] = ["code", "id_token", "id_token token"];

    /// Parses a space-separated `response_type`, in any order.
    fn parse(value: &str) -> Option<ResponseType> {
        let mut parts: Vec<&str> = value.split(' ').filter(|p| !p.is_empty()).collect();
        parts.sort_unstable();
        match parts.as_slice() {
            ["code"] => Some(ResponseType::Code),
            ["id_token"] => Some(ResponseType::IdToken),
            ["id_token", "token"] => Some(ResponseType::IdTokenToken),
            _ => None,
        }
    }

    pub fn is_implicit(self) -> bool {
        self != ResponseType::Code
    }
}

/// How the response reaches the client (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub const SUPPORTED: [&str; 3] = ["query", "fragment", "form_post"];
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    /// Use the session if there is one, else ask.
    #[default]
    Default,
    /// Never show a page: answer from the session or fail.
    None,
    /// Ask for credentials even with a session.
    Login,
}

/// A checked authorization request: what the login serves, kept with it in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request: the code exchange must then repeat it.
    pub redirect_uri_given: bool,
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The scope granted, `offline_access` kept only where refresh tokens are allowed.
    pub scope: Vec<String>,
    pub audience: Option<String>,
    pub prompt: Prompt,
    pub max_age_secs: Option<u64>,
    pub login_hint: Option<String>,
    /// PKCE (RFC 7636), S256 only.
    pub code_challenge: Option<String>,
    /// The request's parameters as sent: what rules see as `context.request.query`.
    pub query: BTreeMap<String, String>,
    /// Set when the login approves a device (the device record's id): the answer goes to the
    /// device's polling, not to a redirect URI.
    #[serde(default)]
    pub device: Option<String>,
}

/// Where the browser goes back to the client, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl ClientRedirect {
    /// The `Location` for the query and fragment modes (`None` for form_post, which the
    /// server answers with an auto-submitting form).
    pub fn location(&self) -> Option<String> {
        let encoded = || {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.params)
                .finish()
        };
        match self.mode {
            ResponseMode::Query => {
                let separator = if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                Some(format!("{}{separator}{}", self.redirect_uri, encoded()))
            }
            ResponseMode::Fragment => Some(format!("{}#{}", self.redirect_uri, encoded())),
            ResponseMode::FormPost => None,
        }
    }

    /// An error for the client (RFC 6749 §4.1.2.1), with the request's `state`.
    pub fn error(request: &AuthorizeRequest, error: &OAuthError) -> ClientRedirect {
        let mut params = vec![
            ("error".to_owned(), error.error.as_str().to_owned()),
            ("error_description".to_owned(), error.description.clone()),
        ];
        if let Some(state) = &request.state {
            params.push(("state".to_owned(), state.clone()));
        }
        ClientRedirect {
            redirect_uri: request.redirect_uri.clone(),
            mode: request.response_mode,
            params,
        }
    }
}

/// Why an authorization request failed, and where the answer goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizeError {
    /// Shown to the user on a page: the redirect URI is not (yet) trusted.
    Page(OAuthError),
    /// Sent back to the client.
    Client(ClientRedirect),
}

impl From<OAuthError> for AuthorizeError {
    fn from(error: OAuthError) -> Self {
        AuthorizeError::Page(error)
    }
}

impl From<crate::store::StoreError> for AuthorizeError {
    fn from(error: crate::store::StoreError) -> Self {
        AuthorizeError::Page(error.into())
    }
}

/// Longest `state`, `nonce` or `login_hint` accepted, in bytes.
const MAX_ECHO_BYTES: usize = 2048;

/// Checks an authorization request against the tenant's client and APIs.
pub fn parse(
    ctx: &TokenContext<'_>,
    params: &BTreeMap<String, String>,
) -> Result<(AuthorizeRequest, Client), AuthorizeError> {
    let page = |description: &str| AuthorizeError::Page(OAuthError::invalid_request(description));
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    let client_id =
        param("client_id").ok_or_else(|| page("Missing required parameter: client_id"))?;
    crate::ids::client_id(client_id).map_err(AuthorizeError::Page)?;
    let client = ctx
        .store
        .client(&ctx.tenant.id, client_id)?
        .ok_or_else(|| page("Unknown client."))?;
    let redirect_uri = match param("redirect_uri") {
        // Exact, byte for byte: no prefix, no normalisation (RFC 9700 §4.1.3).
        Some(uri) if client.redirect_uris.iter().any(|allowed| allowed == uri) => uri,
        Some(_) => {
            return Err(page(
                "The redirect_uri is not registered for this client (exact match required).",
            ));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str(),
            _ => return Err(page("Missing required parameter: redirect_uri")),
        },
    };

    // From here on, errors go to the client. Its response mode is the first thing needed.
    let response_type = param("response_type").and_then(ResponseType::parse);
    let mode = match param("response_mode") {
        None => None,
        Some("query") => Some(ResponseMode::Query),
        Some("fragment") => Some(ResponseMode::Fragment),
        Some("form_post") => Some(ResponseMode::FormPost),
        Some(_) => return Err(page("Unsupported response_mode.")),
    };
    let default_mode = if response_type.is_some_and(ResponseType::is_implicit) {
        ResponseMode::Fragment
    } else {
        ResponseMode::Query
    };
    let mut request = AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uri_given: param("redirect_uri").is_some(),
        response_type: response_type.unwrap_or(ResponseType::Code),
        response_mode: mode.unwrap_or(default_mode),
        state: param("state").map(str::to_owned),
        nonce: param("nonce").map(str::to_owned),
        scope: Vec::new(),
        audience: param("audience").map(str::to_owned),
        prompt: Prompt::Default,
        max_age_secs: None,
        login_hint: param("login_hint").map(str::to_owned),
        code_challenge: None,
        query: params.clone(),
        device: None,
    };
    let fail = |request: &AuthorizeRequest, error: OAuthError| {
        Err(AuthorizeError::Client(ClientRedirect::error(
            request, &error,
        )))
    };
    let Some(response_type) = response_type else {
        let error = OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "Unsupported response_type: use code, id_token or id_token token.",
        );
        return fail(&request, error);
    };
    if response_type.is_implicit() && request.response_mode == ResponseMode::Query {
        return fail(
            &request,
            OAuthError::invalid_request(
                "Tokens are never sent in the query: use fragment or form_post.",
            ),
        );
    }
    let needed = if response_type.is_implicit() {
        IMPLICIT
    } else {
        AUTHORIZATION_CODE
    };
    if !client.allows_grant(needed) {
        let error = OAuthError::unauthorized_client(format!(
            "Grant type '{needed}' not allowed for the client."
        ));
        return fail(&request, error);
    }
    for (name, value) in [
        ("state", &request.state),
        ("nonce", &request.nonce),
        ("login_hint", &request.login_hint),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > MAX_ECHO_BYTES) {
            let error = OAuthError::invalid_request(format!(
                "The {name} is longer than {MAX_ECHO_BYTES} bytes."
            ));
            return fail(&request, error);
        }
    }
    if let Err(error) = check_pkce(&client, response_type, params, &mut request) {
        return fail(&request, error);
    }
    request.prompt = match param("prompt") {
        None => Prompt::Default,
        Some(value) => {
            let values: Vec<&str> = value.split(' ').filter(|v| !v.is_empty()).collect();
            if values.contains(&"none") && values.len() > 1 {
                let error = OAuthError::invalid_request("prompt=none cannot be combined.");
                return fail(&request, error);
            }
            if values.contains(&"none") {
                Prompt::None
            } else if values.contains(&"login") {
                Prompt::Login
            } else {
                // `consent` and `select_account`: first-party clients need neither.
                Prompt::Default
            }
        }
    };
    if let Some(max_age) = param("max_age") {
        match max_age.parse::<u64>() {
            Ok(secs) => request.max_age_secs = Some(secs),
            Err(_) => {
                let error = OAuthError::invalid_request("max_age must be a number of seconds.");
                return fail(&request, error);
            }
        }
    }
    let api = match api_named(ctx, request.audience.as_deref()) {
        Ok(api) => api,
        Err(error) if error.cause.is_some() => return Err(AuthorizeError::Page(error)),
        Err(error) => return fail(&request, error),
    };
    if api.as_ref().is_some_and(|api| {
        api.identifier == crate::manage::tenants::management_audience(&ctx.tenant.issuer)
    }) {
        let error = OAuthError::access_denied("The management API is for client credentials only.");
        return fail(&request, error);
    }
    let scopes = match known_scopes(param("scope").unwrap_or_default(), api.as_ref()) {
        Ok(scopes) => scopes,
        Err(error) => return fail(&request, error),
    };
    if response_type.is_implicit() {
        if !scope::contains(&scopes, "openid") {
            let error = OAuthError::invalid_scope("An ID token needs the openid scope.");
            return fail(&request, error);
        }
        if request.nonce.is_none() {
            let error = OAuthError::invalid_request("The implicit flow needs a nonce.");
            return fail(&request, error);
        }
    }
    // Implicit never yields a refresh token, whatever is asked.
    let offline = !response_type.is_implicit() && offline_allowed(&client, api.as_ref());
    request.scope = scopes
        .into_iter()
        .filter(|s| s != "offline_access" || offline)
        .collect();
    Ok((request, client))
}

/// PKCE: S256 only (`plain` would hand the verifier to whoever reads the request), required
/// for public clients' codes, accepted from confidential ones.
fn check_pkce(
    client: &Client,
    response_type: ResponseType,
    params: &BTreeMap<String, String>,
    request: &mut AuthorizeRequest,
) -> Result<(), OAuthError> {
    let challenge = params.get("code_challenge").filter(|v| !v.is_empty());
    let method = params.get("code_challenge_method").map(String::as_str);
    let Some(challenge) = challenge else {
        if method.is_some() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge.",
            ));
        }
        if response_type == ResponseType::Code && client.client_type != ClientType::Confidential {
            return Err(OAuthError::invalid_request(
                "A public client must use PKCE: send code_challenge with code_challenge_method=S256.",
            ));
        }
        return Ok(());
    };
    if method != Some("S256") {
        return Err(OAuthError::invalid_request(
            "Unsupported code_challenge_method: use S256.",
        ));
    }
    // The base64url of a SHA-256: 43 characters.
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(OAuthError::invalid_request(
            "The code_challenge must be the base64url SHA-256 of the verifier (43 characters).",
        ));
    }
    request.code_challenge = Some(challenge.clone());
    Ok(())
}

/// Checks a PKCE verifier against the stored challenge (RFC 7636 §4.6), in constant time.
pub fn verifier_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine as _;
    use subtle::ConstantTimeEq as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(crate::digest::sha256(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}
