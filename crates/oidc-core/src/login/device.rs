//! The device authorization grant (RFC 8628): a device asks for a code pair, the user enters
//! the short code on the `activate` page (logging in there, or through the SSO session) and
//! confirms, the chain runs with `oauth2-device-code`, and the device's polling turns into
//! tokens.

use serde::{Deserialize, Serialize};

use super::authorize::{AuthorizeRequest, Prompt, ResponseMode, ResponseType};
use super::code::Decided;
use super::records::{self, Stored};
use crate::error::{ErrorCode, OAuthError};
use crate::grants::password::{known_scopes, offline_allowed};
use crate::grants::{TokenContext, TokenRequest, authenticate_for};
use crate::model::UnixMillis;
use crate::secret::{self, Entropy, Secret};
use crate::store::{FlowKind, StoreError};

/// The grant type a client needs, and the device polls with.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A device code lives 15 minutes, as Auth0's.
pub const DEVICE_CODE_LIFETIME_MS: u64 = 900_000;
/// Seconds between polls; each `slow_down` adds 5 (RFC 8628 §3.5).
pub const POLL_INTERVAL_SECS: u64 = 5;
/// Consonants only: no words, no 0/O or 1/I to confuse (RFC 8628 §6.1); 8 of them carry
/// about 34 bits, and wrong guesses are throttled per IP.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;

/// A device authorization as stored, under the digest of the device code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub client_id: String,
    pub scope: Vec<String>,
    pub audience: Option<String>,
    /// Normalised (no dash).
    pub user_code: String,
    pub interval_secs: u64,
    pub last_polled_at: Option<UnixMillis>,
    pub state: DeviceState,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceState {
    Pending,
    /// The user confirmed and the rules agreed: what the tokens carry.
    Approved {
        user_id: String,
        sid: String,
        auth_time: UnixMillis,
        decided: Decided,
    },
    /// The user cancelled, or a rule denied.
    Denied {
        description: String,
    },
    /// Exchanged for tokens; a second exchange revokes the family.
    Redeemed {
        family_id: Option<String>,
    },
}

/// The index from a user code to its device code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UserCodeRecord {
    device: String,
}

/// The answer of `POST {issuer}oauth/device/code` (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// `XXXX-XXXX`, as the user reads it.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// `XXXXXXXX` → `XXXX-XXXX`.
pub fn display(user_code: &str) -> String {
    let (head, tail) = user_code.split_at(user_code.len().min(4));
    format!("{head}-{tail}")
}

/// What a person typed, as stored: upper case, without dashes or spaces. `None` if it
/// cannot be a user code.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

fn new_user_code(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; USER_CODE_LENGTH];
    entropy.fill(&mut bytes);
    // 256 is not a multiple of 20: drawing by rejection keeps every letter equally likely.
    let mut code = String::with_capacity(USER_CODE_LENGTH);
    let mut pool = bytes.to_vec();
    while code.len() < USER_CODE_LENGTH {
        let Some(byte) = pool.pop() else {
            let mut more = [0u8; USER_CODE_LENGTH];
            entropy.fill(&mut more);
            pool.extend_from_slice(&more);
            continue;
        };
        let limit = 256 - 256 % USER_CODE_ALPHABET.len();
        if usize::from(byte) < limit
            && let Some(letter) =
                USER_CODE_ALPHABET.get(usize::from(byte) % USER_CODE_ALPHABET.len())
        {
            code.push(char::from(*letter));
        }
    }
    code
}

/// `POST {issuer}oauth/device/code`.
pub fn start(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    activate_url: &str,
    entropy: &mut dyn Entropy,
) -> Result<DeviceAuthorization, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, DEVICE_CODE_GRANT)?;
    let api = crate::grants::client_credentials::api_named(ctx, request.param("audience"))?;
    if api.as_ref().is_some_and(|api| {
        api.identifier == crate::manage::tenants::management_audience(&ctx.tenant.issuer)
    }) {
        return Err(OAuthError::access_denied(
            "The management API is for client credentials only.",
        ));
    }
    let scope = known_scopes(request.param("scope").unwrap_or_default(), api.as_ref())?;
    let offline = offline_allowed(&client, api.as_ref());
    let scope = scope
        .into_iter()
        .filter(|s| s != "offline_access" || offline)
        .collect();
    let tenant = &ctx.tenant.id;
    let device_code = secret::new_token(entropy);
    let device = records::digest(&device_code);
    let expires_at = ctx.now.saturating_add(DEVICE_CODE_LIFETIME_MS);
    // A user code is short: draw again while one is taken.
    let mut user_code = new_user_code(entropy);
    let mut attempts = 0;
    while !records::create(
        ctx.store,
        tenant,
        FlowKind::UserCode,
        &user_code,
        expires_at,
        &UserCodeRecord {
            device: device.clone(),
        },
    )? {
        attempts += 1;
        if attempts == 8 {
            return Err(OAuthError::unavailable(
                "Too many device logins in progress; retry.",
                5,
            ));
        }
        user_code = new_user_code(entropy);
    }
    let record = DeviceRecord {
        client_id: client.client_id.clone(),
        scope,
        audience: api.map(|api| api.identifier),
        user_code: user_code.clone(),
        interval_secs: POLL_INTERVAL_SECS,
        last_polled_at: None,
        state: DeviceState::Pending,
    };
    if !records::create(
        ctx.store,
        tenant,
        FlowKind::DeviceCode,
        &device,
        expires_at,
        &record,
    )? {
        return Err(OAuthError::server_error());
    }
    let shown = display(&user_code);
    Ok(DeviceAuthorization {
        device_code: device_code.expose().to_owned(),
        verification_uri_complete: format!("{activate_url}?user_code={shown}"),
        verification_uri: activate_url.to_owned(),
        user_code: shown,
        expires_in: DEVICE_CODE_LIFETIME_MS / 1000,
        interval: POLL_INTERVAL_SECS,
    })
}

/// The one answer for a wrong, used or expired user code.
pub(crate) fn invalid_code() -> OAuthError {
    OAuthError::invalid_request(
        "That code is not valid, or it has expired. Check the code on your device.",
    )
}

/// A pending device authorization by its record id.
pub(crate) fn find_by_id(
    ctx: &TokenContext<'_>,
    device: &str,
) -> Result<Option<Found>, StoreError> {
    let Some(Stored { body: record, .. }) = records::read::<DeviceRecord>(
        ctx.store,
        &ctx.tenant.id,
        FlowKind::DeviceCode,
        device,
        ctx.now,
    )?
    else {
        return Ok(None);
    };
    if record.state != DeviceState::Pending {
        return Ok(None);
    }
    let client_name = ctx
        .store
        .client(&ctx.tenant.id, &record.client_id)?
        .map(|client| client.name)
        .unwrap_or_default();
    Ok(Some(Found {
        device: device.to_owned(),
        record,
        client_name,
    }))
}

/// A pending device authorization found by its user code.
#[derive(Debug, Clone)]
pub struct Found {
    /// The record's id (the digest of the device code).
    pub device: String,
    pub record: DeviceRecord,
    pub client_name: String,
}

/// The pending authorization a typed user code names. Wrong guesses count against the IP
/// in the login throttle, so the short code cannot be brute-forced.
pub fn find(ctx: &TokenContext<'_>, typed: &str, ip: &str) -> Result<Found, OAuthError> {
    const GUESSES: &str = "*device-activation*";
    let tenant = &ctx.tenant.id;
    ctx.throttle.check(tenant, GUESSES, ip, ctx.now)?;
    let invalid = || {
        ctx.throttle.failed(tenant, GUESSES, ip, ctx.now);
        invalid_code()
    };
    let Some(code) = normalise(typed) else {
        return Err(invalid());
    };
    let Some(Stored { body: index, .. }) =
        records::read::<UserCodeRecord>(ctx.store, tenant, FlowKind::UserCode, &code, ctx.now)?
    else {
        return Err(invalid());
    };
    find_by_id(ctx, &index.device)?.ok_or_else(invalid)
}

impl Found {
    /// The login the device authorization becomes: rules see it as an authorization request
    /// of the client, with `oauth2-device-code`.
    pub fn as_request(&self) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: self.record.client_id.clone(),
            redirect_uri: String::new(),
            redirect_uri_given: false,
            response_type: ResponseType::Code,
            response_mode: ResponseMode::Query,
            state: None,
            nonce: None,
            scope: self.record.scope.clone(),
            audience: self.record.audience.clone(),
            prompt: Prompt::Default,
            max_age_secs: None,
            login_hint: None,
            code_challenge: None,
            query: [("user_code".to_owned(), display(&self.record.user_code))]
                .into_iter()
                .collect(),
            device: Some(self.device.clone()),
        }
    }
}

/// Sets the outcome of a device authorization (approved or denied), if it is still pending.
pub(crate) fn settle(
    ctx: &TokenContext<'_>,
    device: &str,
    state: DeviceState,
) -> Result<bool, StoreError> {
    let tenant = &ctx.tenant.id;
    let Some(record) = ctx.store.flow(tenant, FlowKind::DeviceCode, device)? else {
        return Ok(false);
    };
    let Ok(mut body) = serde_json::from_slice::<DeviceRecord>(&record.body) else {
        return Err(StoreError::corrupt("device", "undecodable record"));
    };
    if record.expires_at <= ctx.now || body.state != DeviceState::Pending {
        return Ok(false);
    }
    body.state = state;
    records::replace(
        ctx.store,
        tenant,
        FlowKind::DeviceCode,
        device,
        (record.version, record.expires_at),
        &body,
    )
}

/// The device code a poll presents, with its record: `expired_token` for one that lapsed,
/// `invalid_grant` for one never issued or another client's.
pub(crate) fn presented(
    ctx: &TokenContext<'_>,
    client_id: &str,
    device_code: &Secret,
) -> Result<(String, Stored<DeviceRecord>, UnixMillis), OAuthError> {
    let tenant = &ctx.tenant.id;
    let device = records::digest(device_code);
    let Some(record) = ctx.store.flow(tenant, FlowKind::DeviceCode, &device)? else {
        return Err(OAuthError::invalid_grant("Invalid device code."));
    };
    let body: DeviceRecord =
        serde_json::from_slice(&record.body).map_err(|e| StoreError::corrupt("device", e))?;
    if body.client_id != client_id {
        return Err(OAuthError::invalid_grant("Invalid device code."));
    }
    if record.expires_at <= ctx.now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "The device code has expired.",
        ));
    }
    Ok((
        device,
        Stored {
            version: record.version,
            body,
        },
        record.expires_at,
    ))
}
