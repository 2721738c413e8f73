//! `grant_type=urn:ietf:params:oauth:grant-type:device_code`: the device's polling (RFC 8628
//! §3.4, §3.5). Pending answers `authorization_pending` (or `slow_down`, which also widens
//! the interval, when the device polls too fast); a denial `access_denied`; an approval the
//! tokens, once.

use rules_abi::Protocol;

use crate::error::{ErrorCode, OAuthError};
use crate::grants::issue::{self, Grant, Issued};
use crate::grants::password::offline_allowed;
use crate::grants::{TokenContext, TokenRequest, authenticate_for};
use crate::login::device::{self, DEVICE_CODE_GRANT, DeviceState};
use crate::login::records::{self, Stored};
use crate::refresh::lifecycle::revoke_family;
use crate::refresh::token::new_family_id;
use crate::scope;
use crate::secret::{Entropy, Secret};
use crate::store::FlowKind;

fn invalid_code() -> OAuthError {
    OAuthError::invalid_grant("Invalid device code.")
}

pub(super) fn grant(
    ctx: &TokenContext<'_>,
    request: &TokenRequest,
    entropy: &mut dyn Entropy,
) -> Result<Issued, OAuthError> {
    let client = authenticate_for(ctx, &request.credentials, DEVICE_CODE_GRANT)?;
    let device_code = Secret::new(request.required("device_code")?);
    let tenant = &ctx.tenant.id;
    let (id, Stored { version, body }, expires_at) =
        device::presented(ctx, &client.client_id, &device_code)?;
    match body.state.clone() {
        DeviceState::Pending => {
            let interval_ms = body.interval_secs.saturating_mul(1000);
            let too_fast = body
                .last_polled_at
                .is_some_and(|at| ctx.now < at.saturating_add(interval_ms));
            let mut polled = body;
            polled.last_polled_at = Some(ctx.now);
            if too_fast {
                polled.interval_secs += device::POLL_INTERVAL_SECS;
            }
            // A concurrent poll may win this write; either way the device waits.
            records::replace(
                ctx.store,
                tenant,
                FlowKind::DeviceCode,
                &id,
                (version, expires_at),
                &polled,
            )?;
            Err(if too_fast {
                OAuthError::new(
                    ErrorCode::SlowDown,
                    "You are polling faster than the interval.",
                )
            } else {
                OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "The user has not yet approved the device.",
                )
            })
        }
        DeviceState::Denied { description } => Err(OAuthError::access_denied(description)),
        DeviceState::Redeemed { family_id } => {
            // A device code used twice: what its first exchange issued is revoked.
            if let Some(family_id) = family_id {
                revoke_family::<OAuthError>(
                    ctx.store,
                    tenant,
                    &family_id,
                    "device code reused",
                    ctx.now,
                )?;
            }
            Err(invalid_code())
        }
        DeviceState::Approved {
            user_id,
            sid,
            auth_time,
            decided,
        } => {
            let user = ctx
                .store
                .user(tenant, &user_id)?
                .filter(|user| !user.blocked)
                .ok_or_else(invalid_code)?;
            let api = super::client_credentials::api_named(ctx, body.audience.as_deref())
                .map_err(|_| invalid_code())?;
            let offline = scope::contains(&body.scope, "offline_access")
                && offline_allowed(&client, api.as_ref());
            let family_id = offline.then(|| new_family_id(entropy));
            let mut redeemed = body.clone();
            redeemed.state = DeviceState::Redeemed {
                family_id: family_id.clone(),
            };
            if !records::replace(
                ctx.store,
                tenant,
                FlowKind::DeviceCode,
                &id,
                (version, expires_at),
                &redeemed,
            )? {
                return Err(invalid_code());
            }
            let grant = Grant {
                sid: Some(&sid),
                ..Grant::token_endpoint(
                    &client,
                    &user,
                    api.as_ref(),
                    body.scope.clone(),
                    Protocol::OAuth2DeviceCode,
                    DEVICE_CODE_GRANT,
                    auth_time,
                )
            };
            let applied = decided.applied();
            let issued = issue::deliver_with_family(
                ctx,
                &grant,
                &applied,
                family_id,
                &request.info,
                entropy,
            )?;
            Ok(Issued {
                wrote: true,
                ..issued
            })
        }
    }
}
