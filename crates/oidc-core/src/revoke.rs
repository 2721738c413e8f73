//! `POST /oauth/revoke` (RFC 7009).

use crate::audit::{LogEvent, codes};
use crate::error::OAuthError;
use crate::grants::{ClientCredentials, TokenContext, authenticate_client};
use crate::refresh::lifecycle::revoke_family;

/// Revokes the family of a refresh token the authenticated client owns. Unknown tokens,
/// access tokens and other clients' tokens are ignored: the answer is the same 200 for all,
/// so the endpoint reveals nothing (RFC 7009 §2.2).
pub fn revoke(
    ctx: &TokenContext<'_>,
    credentials: &ClientCredentials,
    token: &str,
) -> Result<(), OAuthError> {
    let client = authenticate_client(ctx, credentials)?;
    let Some(id) = ctx.refresh_keys.parse(&ctx.tenant.id, token) else {
        return Ok(());
    };
    if let Some(family) = ctx.store.refresh_family(&ctx.tenant.id, &id.family_id)?
        && family.client_id == client.client_id
    {
        let revoked = revoke_family::<OAuthError>(
            ctx.store,
            &ctx.tenant.id,
            &family.id,
            "revoked by the client",
            ctx.now,
        )?;
        if revoked {
            ctx.audit.record(
                LogEvent::new(
                    codes::REVOKED,
                    "Successful Refresh Token revocation",
                    ctx.now,
                )
                .client(&family.client_id)
                .user(&family.user_id),
            );
        }
    }
    Ok(())
}
