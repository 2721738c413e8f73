//! `POST /oauth/token`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oidc_core::{SystemEntropy, TokenRequest};

use super::form;
use crate::error::ApiError;
use crate::journal;
use crate::state::{AppState, Lane};
use crate::tenancy::TenantCtx;

pub(crate) async fn token(
    State(state): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = form::read_body(body).await?;
    let (params, credentials) = form::parse_token_request(&headers, &body)?;
    // Of the failures, only a refresh or code exchange writes (revoking a family on reuse or at a
    // rule's request); other failures, such as a wrong password, must not cost an fsync
    // each, or guessing passwords would also load the disk.
    // A reused authorization code writes too: it revokes what its first exchange issued.
    // A device's poll records its time (for slow_down).
    let failure_may_write = params.get("grant_type").is_some_and(|grant| {
        [
            oidc_core::grants::REFRESH_TOKEN,
            oidc_core::grants::AUTHORIZATION_CODE,
            oidc_core::login::device::DEVICE_CODE_GRANT,
        ]
        .contains(&grant.as_str())
    });
    let request = TokenRequest {
        params,
        credentials,
        info: form::request_info(&headers, peer),
    };
    if let Err(blocked) =
        oidc_core::grants::admit(state.throttle(), &tenant.tenant.id, &request, state.now())
    {
        let client_id = match &request.credentials {
            oidc_core::ClientCredentials::Basic { client_id, .. }
            | oidc_core::ClientCredentials::Post { client_id, .. } => client_id.clone(),
            oidc_core::ClientCredentials::Missing => String::new(),
        };
        let event = oidc_core::grants::password::blocked_event(
            &blocked,
            &client_id,
            request.param("username").unwrap_or_default(),
            &request,
            state.now(),
        );
        let (logging, id) = (state.clone(), tenant.tenant.id.clone());
        let _ =
            tokio::task::spawn_blocking(move || journal::append(&logging, &id, vec![event])).await;
        // A guesser in a loop waits for its 429 on a sleeping connection, not on a core.
        tokio::time::sleep(state.tarpit()).await;
        return Err(blocked.into());
    }
    let password = matches!(
        request.param("grant_type"),
        Some(oidc_core::grants::PASSWORD | oidc_core::grants::PASSWORD_REALM)
    );
    // Whatever was written (a new token, a rotation, a revocation after reuse) is on disk
    // before the client hears about it.
    let result = if password {
        let (result, expected) = password_login(&state, tenant, request).await?;
        if wrote(&result, failure_may_write) {
            match expected {
                Some(expected) => state.commit_expected(expected).await?,
                None => state.commit().await?,
            }
        }
        result
    } else {
        // A flush under load waits for this request once it is in the lanes (one fsync for
        // many); the lane hands the result to the group commit, which hands it here once it is
        // durable: one wake-up of this task instead of two.
        let expected = state.expect_commit();
        // Not the state itself: the flusher may answer the request before the lane lets go
        // of what it holds, and a server shutting down must find no request holding its state.
        let committer = state.committer();
        let (result, durable) = super::with_token_context_then(
            &state,
            tenant,
            Lane::Normal,
            move |ctx| {
                let result = oidc_core::exchange(ctx, &request, &mut SystemEntropy);
                journal::record_outcome(ctx.audit, &request, result.as_ref(), ctx.now);
                result
            },
            move |result, reply| {
                if wrote(&result, failure_may_write) {
                    let then = Box::new(move |durable| reply.send((result, durable)));
                    committer.when_durable(expected, then);
                } else {
                    drop(expected);
                    reply.send((result, Ok(())));
                }
            },
        )
        .await?;
        durable?;
        result
    };
    let issued = result?;
    let mut response = Json(issued.response).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whether a token request's outcome wrote something its answer must wait for: what it issued
/// says; of the failures, those of grants that may write (`failure_may_write`).
fn wrote(
    result: &Result<oidc_core::Issued, oidc_core::OAuthError>,
    failure_may_write: bool,
) -> bool {
    match result {
        Ok(issued) => issued.wrote,
        Err(_) => failure_may_write,
    }
}

/// A password login in two halves: Argon2 on the low-priority lane, so that a flood of
/// guesses yields the CPU to every other tenant's work; then the rules and the tokens on the
/// normal lane, where the rules' wall-clock deadlines are not at the mercy of that priority.
async fn password_login(
    state: &AppState,
    tenant: std::sync::Arc<crate::state::TenantRuntime>,
    request: TokenRequest,
) -> Result<
    (
        Result<oidc_core::Issued, oidc_core::OAuthError>,
        Option<crate::durability::Expected>,
    ),
    oidc_core::OAuthError,
> {
    let request = std::sync::Arc::new(request);
    let verifying = std::sync::Arc::clone(&request);
    let login = super::with_token_context(
        state,
        std::sync::Arc::clone(&tenant),
        Lane::Slow,
        move |ctx| {
            let verified = oidc_core::grants::password::verify(ctx, &verifying);
            if let Err(error) = &verified {
                journal::record_outcome(ctx.audit, &verifying, Err(error), ctx.now);
            }
            verified
        },
    )
    .await?;
    let login = match login {
        Ok(login) => login,
        Err(error) => return Ok((Err(error), None)),
    };
    let expected = state.expect_commit();
    let result = super::with_token_context(state, tenant, Lane::Normal, move |ctx| {
        let result = oidc_core::grants::password::issue(ctx, &request, login, &mut SystemEntropy);
        journal::record_outcome(ctx.audit, &request, result.as_ref(), ctx.now);
        result
    })
    .await?;
    Ok((result, Some(expected)))
}
