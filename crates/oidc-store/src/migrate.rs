//! Upgrades a store written by an older build, in place, when it opens.
//!
//! Version 2 kept one record per rule (keyed by name, without an id) and the rules'
//! configuration inside the tenant record. Version 3 keeps both in one rule set per tenant.
//! The migration is one sled transaction over the trees it touches, so a crash leaves either
//! the old layout (migrated again at the next open) or the new one.

use std::collections::BTreeMap;

use oidc_core::manage::rules::module_hash;
use oidc_core::{RuleRecord, RuleSet, StoreError};
use serde::Deserialize;
use sled::Transactional;

use crate::records::{decode, encode};
use crate::{failed, tx_failed};

/// A version 2 rule record.
#[derive(Deserialize)]
struct RuleV2 {
    name: String,
    order: i64,
    enabled: bool,
    module_hash: String,
}

pub(crate) fn from_v2(db: &sled::Db) -> Result<(), StoreError> {
    let old_rules = db.open_tree("rules").map_err(failed("rules"))?;
    let tenants = db.open_tree("tenants").map_err(failed("tenants"))?;
    let modules = db.open_tree("modules").map_err(failed("modules"))?;
    let rule_sets = db.open_tree("rule_sets").map_err(failed("rule sets"))?;
    if !rule_sets.is_empty() {
        // The transaction below committed before a crash: only the old tree is left to drop.
        return db.drop_tree("rules").map(drop).map_err(failed("rules"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);

    let mut sets: BTreeMap<String, RuleSet> = BTreeMap::new();
    for entry in old_rules.iter() {
        let (key, value) = entry.map_err(failed("rules"))?;
        let tenant = key
            .split(|b| *b == 0)
            .next()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default();
        let old: RuleV2 = decode("rules", &value)?;
        let module_size = modules
            .get(crate::keys::key(&tenant, &[&old.module_hash]))
            .map_err(failed("modules"))?
            .map_or(0, |m| m.len() as u64);
        // A stable id, so a migration that runs twice gives the same ids.
        let id_hash = module_hash(format!("{tenant}\0{}", old.name).as_bytes());
        sets.entry(tenant).or_default().rules.push(RuleRecord {
            id: format!("rul_{}", id_hash.get(..16).unwrap_or(&id_hash)),
            name: old.name,
            order: old.order,
            enabled: old.enabled,
            module_hash: old.module_hash,
            module_size,
            // Stores this old predate ABI version 2: their modules were built for version 1.
            abi_version: 1,
            created_at: now,
            updated_at: now,
        });
    }
    let mut rewritten_tenants = Vec::new();
    for entry in tenants.iter() {
        let (key, value) = entry.map_err(failed("tenants"))?;
        let mut record: serde_json::Map<String, serde_json::Value> = decode("tenants", &value)?;
        let configuration: BTreeMap<String, String> = match record.remove("rules_configuration") {
            Some(value) => {
                serde_json::from_value(value).map_err(|e| StoreError::corrupt("tenants", e))?
            }
            None => BTreeMap::new(),
        };
        let tenant = String::from_utf8_lossy(&key).into_owned();
        let set = sets.entry(tenant).or_default();
        set.configuration = configuration;
        rewritten_tenants.push((key, encode(&record)?));
    }
    let mut encoded_sets = Vec::new();
    for (tenant, mut set) in sets {
        if set.rules.is_empty() && set.configuration.is_empty() {
            continue;
        }
        set.rules.sort_by_key(|rule| rule.order);
        set.version = 1;
        encoded_sets.push((tenant, encode(&set)?));
    }
    (&tenants, &rule_sets)
        .transaction(|(tenants, rule_sets)| {
            for (key, record) in &rewritten_tenants {
                tenants.insert(key, record.as_slice())?;
            }
            for (tenant, set) in &encoded_sets {
                rule_sets.insert(tenant.as_bytes(), set.as_slice())?;
            }
            Ok(())
        })
        .map_err(tx_failed("migrate rule sets"))?;
    db.drop_tree("rules").map_err(failed("rules"))?;
    Ok(())
}
