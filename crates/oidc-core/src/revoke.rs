//! `POST /oauth/revoke` (RFC 7009).

use crate::error::OAuthError;
use crate::grants::{ClientCredentials, TokenContext, authenticate_client};
use crate::secret::Secret;

/// Revokes the family of a refresh token the authenticated client owns. Unknown tokens,
/// access tokens and other clients' tokens are ignored: the answer is the same 200 for all,
/// so the endpoint reveals nothing (RFC 7009 §2.2).
pub fn revoke(
    ctx: &TokenContext<'_>,
    credentials: &ClientCredentials,
    token: &str,
) -> Result<(), OAuthError> {
    let client = authenticate_client(ctx, credentials)?;
    let hash = Secret::new(token).hash();
    if let Some((_, family)) = ctx.store.refresh_find(&ctx.tenant.id, &hash)?
        && family.client_id == client.client_id
    {
        crate::grants::revoke_family(ctx, &family, "revoked by the client")?;
    }
    Ok(())
}
