//! The background sweep: every tenant's dead refresh-token families are deleted, sealed
//! successors past their window dropped and expired flow records deleted, in bounded pages,
//! at start and then on a timer. Each page runs on a worker of the fair scheduler under its
//! own name, so the sweep takes one share of the machine and never starves a tenant.

use std::sync::Weak;
use std::time::Duration;

use oidc_core::refresh::lifecycle::{self, Swept};
use oidc_core::{ErrorCode, StoreError};

use crate::periodic::Periodic;
use crate::state::{AppState, Inner, Lane};

/// Families looked at per page (one blocking call).
const PAGE: usize = 1_000;

/// The scheduler's name for the sweep's work; not a valid tenant id, so never a tenant's.
const SWEEP: &str = "*sweep*";

/// Sweeps now and every `every`, for as long as the state lives.
pub(crate) fn start(state: Weak<Inner>, every: Duration) -> Periodic {
    Periodic::start(state, every, |state, stopping| async move {
        match sweep_until(&state, Some(&stopping)).await {
            Ok(swept) if swept.deleted + swept.unsealed + swept.flows_deleted > 0 => {
                tracing::info!(
                    deleted = swept.deleted,
                    unsealed = swept.unsealed,
                    flows_deleted = swept.flows_deleted,
                    scanned = swept.scanned,
                    "swept refresh-token families"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::error!("sweeping refresh-token families failed: {error}"),
        }
    })
}

/// Runs one page of the sweep on a domain thread, under the sweep's own name in the fair
/// scheduler. `Ok(None)`: the server is busy, and the next pass finishes the job.
async fn on_worker<T: Send + 'static>(
    state: &AppState,
    page: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<Option<T>, StoreError> {
    match state.run_blocking(SWEEP, Lane::Normal, page).await {
        Ok(page) => page.map(Some),
        Err(busy) if busy.error == ErrorCode::TemporarilyUnavailable => Ok(None),
        Err(failed) => Err(StoreError::backend("sweep task", failed)),
    }
}

/// One pass over every tenant.
pub(crate) async fn sweep_all(state: &AppState) -> Result<Swept, StoreError> {
    sweep_until(state, None).await
}

/// One pass over every tenant, cut short between pages once `stopping` turns true.
async fn sweep_until(
    state: &AppState,
    stopping: Option<&tokio::sync::watch::Receiver<bool>>,
) -> Result<Swept, StoreError> {
    let stopped = || stopping.is_some_and(|stopping| *stopping.borrow());
    let mut total = Swept::default();
    for tenant in state.tenant_ids() {
        let mut after: Option<String> = None;
        loop {
            if stopped() {
                return Ok(total);
            }
            let (store, now, tenant_id, cursor) = (
                state.store().clone(),
                state.now(),
                tenant.clone(),
                after.take(),
            );
            let Some(page) = on_worker(state, move || {
                lifecycle::sweep(store.as_ref(), &tenant_id, cursor.as_deref(), PAGE, now)
            })
            .await?
            else {
                return Ok(total);
            };
            total.scanned += page.scanned;
            total.deleted += page.deleted;
            total.unsealed += page.unsealed;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Expired flow records: codes, sessions, logins in progress, device codes.
        for kind in oidc_core::FlowKind::ALL {
            let mut after: Option<String> = None;
            loop {
                if stopped() {
                    return Ok(total);
                }
                let (store, now, tenant_id, cursor) = (
                    state.store().clone(),
                    state.now(),
                    tenant.clone(),
                    after.take(),
                );
                let Some((deleted, next)) = on_worker(state, move || {
                    oidc_core::login::records::sweep(
                        store.as_ref(),
                        &tenant_id,
                        kind,
                        cursor.as_deref(),
                        PAGE,
                        now,
                    )
                })
                .await?
                else {
                    return Ok(total);
                };
                total.flows_deleted += deleted;
                match next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        // The tenant's log keeps its newest events, within its age.
        let (store, tenant_id) = (state.store().clone(), tenant.clone());
        let retention = oidc_core::audit::Retention::default();
        let oldest_kept = state.now().saturating_sub(retention.max_age_ms);
        let Some(trimmed) = on_worker(state, move || {
            store.trim_logs(
                &tenant_id,
                retention.max_events,
                &format!("{oldest_kept:013}"),
            )
        })
        .await?
        else {
            return Ok(total);
        };
        total.logs_trimmed += trimmed;
    }
    if total.deleted + total.unsealed + total.flows_deleted > 0 {
        state.commit().await?;
    }
    Ok(total)
}
