//! Moves a deployment from one store to another (`claimsmith copy --from sled:DIR --to
//! postgres://…`): every record of every tenant, through the port alone, so any engine can be
//! either end. Records are copied as they are (keys still wrapped, refresh tokens and client
//! secrets still hashed, the deployment secret still wrapped under the operator key), so with
//! the same operator key every issued token, session and code stays valid on the other end.
//!
//! The destination must hold no tenant: a copy never merges two deployments. The source should
//! not be serving while it is copied (a rotation during the copy could be missed).

use crate::store::{Change, FamilyWrite, FlowKind, FlowWrite, Store, StoreError, UserinfoWrite};
use crate::vault::DEPLOYMENT_SECRET;

/// Records per page when a kind is read in pages.
const PAGE: usize = 500;

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the destination already holds tenant {0:?}: copy into an empty store (a copy never \
         merges deployments)"
    )]
    NotEmpty(String),
    #[error(
        "the destination has another deployment secret: it was started before the copy; \
         copy into an empty store"
    )]
    OtherDeployment,
    #[error(
        "the destination refused a {0} record it should have taken: is something else writing to it?"
    )]
    Refused(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many records of each kind were copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tenants: usize,
    pub keys: usize,
    pub clients: usize,
    pub apis: usize,
    pub users: usize,
    pub rule_sets: usize,
    pub refresh_families: usize,
    pub userinfo_claims: usize,
    pub log_events: usize,
    pub flow_records: usize,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tenants, {} keys, {} clients, {} APIs, {} users, {} rule sets, \
             {} refresh-token families, {} userinfo claim sets, {} log events, {} flow records",
            self.tenants,
            self.keys,
            self.clients,
            self.apis,
            self.users,
            self.rule_sets,
            self.refresh_families,
            self.userinfo_claims,
            self.log_events,
            self.flow_records
        )
    }
}

/// Copies everything in `from` into `to`, which must hold no tenant.
pub fn copy(from: &dyn Store, to: &dyn Store) -> Result<CopyReport, CopyError> {
    if let Some(tenant) = to.tenants()?.into_iter().next() {
        return Err(CopyError::NotEmpty(tenant.id));
    }
    if let Some(secret) = from.meta(DEPLOYMENT_SECRET)?
        && !to.meta_swap(DEPLOYMENT_SECRET, None, &secret)?
        && to.meta(DEPLOYMENT_SECRET)?.as_deref() != Some(&secret[..])
    {
        return Err(CopyError::OtherDeployment);
    }
    let mut report = CopyReport::default();
    for tenant in from.tenants()? {
        to.put_tenant(&tenant)?;
        report.tenants += 1;
        copy_tenant(from, to, &tenant.id, &mut report)?;
    }
    to.flush()?;
    Ok(report)
}

fn copy_tenant(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    for key in from.keys(tenant)? {
        to.put_key(tenant, &key)?;
        report.keys += 1;
    }
    let clients = from.clients(tenant)?;
    for client in &clients {
        to.put_client(tenant, client)?;
        report.clients += 1;
    }
    for api in from.apis(tenant)? {
        to.put_api(tenant, &api)?;
        report.apis += 1;
    }
    copy_users(from, to, tenant, &clients, report)?;
    copy_rules(from, to, tenant, report)?;
    copy_families(from, to, tenant, report)?;
    copy_logs(from, to, tenant, report)?;
    copy_flows(from, to, tenant, report)
}

/// Users, and the `/userinfo` claims of each user's latest issuance to each client.
fn copy_users(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    clients: &[crate::Client],
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    paged(
        |after| from.users_page(tenant, after, PAGE),
        |user| user.user_id.clone(),
        |page| {
            for user in page {
                to.put_user(tenant, user)?;
                report.users += 1;
                for client in clients {
                    let claims = from.userinfo_claims(tenant, &user.user_id, &client.client_id)?;
                    if claims.is_empty() {
                        continue;
                    }
                    let change = Change {
                        userinfo: Some(UserinfoWrite {
                            user_id: &user.user_id,
                            client_id: &client.client_id,
                            claims: &claims,
                        }),
                        ..Change::default()
                    };
                    to.apply(tenant, &change)?;
                    report.userinfo_claims += 1;
                }
            }
            Ok(())
        },
    )
}

fn copy_rules(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    let set = from.rule_set(tenant)?;
    if set.version == 0 {
        return Ok(());
    }
    let mut modules = Vec::new();
    for hash in set.module_hashes() {
        let module = from
            .module(tenant, hash)?
            .ok_or_else(|| StoreError::corrupt("rule set", format!("module {hash} is missing")))?;
        modules.push((hash.to_owned(), module));
    }
    let modules: Vec<(&str, &[u8])> = modules
        .iter()
        .map(|(hash, module)| (hash.as_str(), module.as_slice()))
        .collect();
    if !to.put_rule_set(tenant, 0, &set, &modules)? {
        return Err(CopyError::Refused("rule set"));
    }
    report.rule_sets += 1;
    Ok(())
}

fn copy_families(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    paged(
        |after| from.refresh_page(tenant, after, PAGE),
        |family| family.id.clone(),
        |page| {
            for family in page {
                if !to.apply(tenant, &Change::family(FamilyWrite::Create(family)))? {
                    return Err(CopyError::Refused("refresh-token family"));
                }
                report.refresh_families += 1;
            }
            Ok(())
        },
    )
}

fn copy_logs(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    paged(
        |after| from.logs(tenant, after, PAGE, false),
        |event| event.id.clone(),
        |page| {
            to.append_logs(tenant, page)?;
            report.log_events += page.len();
            Ok(())
        },
    )
}

/// Codes, sessions, logins in progress and device codes: users stay logged in.
fn copy_flows(
    from: &dyn Store,
    to: &dyn Store,
    tenant: &str,
    report: &mut CopyReport,
) -> Result<(), CopyError> {
    for kind in FlowKind::ALL {
        paged(
            |after| from.flow_page(tenant, kind, after, PAGE),
            |(id, _)| id.clone(),
            |page| {
                for (id, record) in page {
                    if !to.write_flow(tenant, kind, id, FlowWrite::Create(record))? {
                        return Err(CopyError::Refused("flow"));
                    }
                    report.flow_records += 1;
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Reads pages after a cursor (the last item's id) until one comes back empty, handing each
/// to `each`: memory stays bounded by a page, whatever the deployment's size.
fn paged<T>(
    mut read: impl FnMut(Option<&str>) -> Result<Vec<T>, StoreError>,
    cursor: impl Fn(&T) -> String,
    mut each: impl FnMut(&[T]) -> Result<(), CopyError>,
) -> Result<(), CopyError> {
    let mut after: Option<String> = None;
    loop {
        let page = read(after.as_deref())?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(cursor(last));
        each(&page)?;
    }
}
