//! Authorization codes: one-time, 60 s, bound to the client, the redirect URI, the PKCE
//! challenge, the nonce and what the login's rules decided. The record outlives the code's
//! validity so that a second use is recognised, and revokes what the first one issued
//! (RFC 6749 §4.1.2).

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizeRequest;
use super::records;
use crate::grants::TokenContext;
use crate::model::UnixMillis;
use crate::rules::Applied;
use crate::secret::{self, Entropy, Secret};
use crate::store::{FlowKind, StoreError};

/// A code can be exchanged for this long after it was issued.
pub const CODE_LIFETIME_MS: u64 = 60_000;
/// Its record is kept this long, to catch a replay after the first exchange.
pub const CODE_RECORD_LIFETIME_MS: u64 = 10 * 60_000;

/// What rules decided at the login, for the tokens the code is exchanged for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub id_claims: rules_abi::Claims,
    pub access_claims: rules_abi::Claims,
    pub access_scope: Vec<String>,
    pub refresh_expires_at: Option<UnixMillis>,
    pub refresh_idle_expires_at: Option<UnixMillis>,
}

impl Decided {
    pub(crate) fn of(applied: &Applied) -> Decided {
        Decided {
            id_claims: applied.id_claims.clone(),
            access_claims: applied.access_claims.clone(),
            access_scope: applied.access_scope.clone(),
            refresh_expires_at: applied.refresh_expires_at,
            refresh_idle_expires_at: applied.refresh_idle_expires_at,
        }
    }

    pub(crate) fn applied(&self) -> Applied {
        Applied {
            id_claims: self.id_claims.clone(),
            access_claims: self.access_claims.clone(),
            access_scope: self.access_scope.clone(),
            metadata: Default::default(),
            refresh_expires_at: self.refresh_expires_at,
            refresh_idle_expires_at: self.refresh_idle_expires_at,
            redirect: None,
        }
    }
}

/// An authorization code as stored, under the digest of the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub user_id: String,
    pub sid: String,
    pub auth_time: UnixMillis,
    pub scope: Vec<String>,
    pub audience: Option<String>,
    pub decided: Decided,
    pub valid_until: UnixMillis,
    pub redeemed: Option<Redeemed>,
}

/// The first exchange of a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redeemed {
    pub at: UnixMillis,
    /// The refresh-token family it created, revoked if the code comes back.
    pub family_id: Option<String>,
    /// The code came back. Set by the replay, read by the first exchange once its family
    /// exists: whichever of the two finishes last revokes the family, so a replay racing the
    /// first exchange cannot leave its tokens alive.
    #[serde(default)]
    pub replayed: bool,
}

/// Issues a code for a completed login.
pub(crate) fn issue(
    ctx: &TokenContext<'_>,
    request: &AuthorizeRequest,
    (user_id, sid, auth_time): (&str, &str, UnixMillis),
    decided: Decided,
    entropy: &mut dyn Entropy,
) -> Result<Secret, StoreError> {
    let code = secret::new_token(entropy);
    let record = CodeRecord {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_given: request.redirect_uri_given,
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        user_id: user_id.to_owned(),
        sid: sid.to_owned(),
        auth_time,
        scope: request.scope.clone(),
        audience: request.audience.clone(),
        decided,
        valid_until: ctx.now.saturating_add(CODE_LIFETIME_MS),
        redeemed: None,
    };
    let expires_at = ctx.now.saturating_add(CODE_RECORD_LIFETIME_MS);
    let id = records::digest(&code);
    if !records::create(
        ctx.store,
        &ctx.tenant.id,
        FlowKind::AuthorizationCode,
        &id,
        expires_at,
        &record,
    )? {
        return Err(StoreError::Conflict(
            "an authorization code was drawn twice".into(),
        ));
    }
    Ok(code)
}
