//! A tenant's rules and their configuration: create, update and delete rules (each upload
//! checked by the rule engine before anything is stored), and set or unset configuration
//! values. Every change is one compare-and-swap of the tenant's [`RuleSet`], retried when
//! another writer got there first, so names and orders stay unique under concurrent writers.

use std::collections::BTreeMap;

use super::{ATTEMPTS, ManageError};
use crate::model::{RuleRecord, RuleSet, UnixMillis};
use crate::secret::{self, Entropy};
use crate::store::Store;

/// The most rules a tenant may have (Auth0 allows 20 actions per trigger).
pub const MAX_RULES: usize = 20;
/// The longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The longest configuration key, as Auth0 allows.
pub const MAX_CONFIG_KEY_CHARS: usize = 127;
/// All configuration values of a tenant together: they travel in every rule call's input,
/// which the sandbox caps at 128 KiB.
pub const MAX_CONFIG_BYTES: usize = 32 * 1024;

/// The rule engine, as far as uploads are concerned: the server implements it over
/// `rules-host`, which validates (and compiles) a module fully.
pub trait ModuleCheck {
    /// The rule ABI version the module was built for; `Err` holds the exact reason the module
    /// is refused.
    fn check(&self, wasm: &[u8]) -> Result<u32, String>;
}

/// A rule to create. Without an `order`, it runs last (one more than the current maximum),
/// as Auth0 does.
#[derive(Debug, Clone, Copy)]
pub struct NewRule<'a> {
    pub name: &'a str,
    pub order: Option<i64>,
    pub enabled: bool,
    pub module: &'a [u8],
}

/// Changes to a rule; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleUpdate<'a> {
    pub name: Option<&'a str>,
    pub order: Option<i64>,
    pub enabled: Option<bool>,
    pub module: Option<&'a [u8]>,
}

/// A rule as a seed file declares it: matched to an existing rule by name.
#[derive(Debug, Clone)]
pub struct DeclaredRule {
    pub name: String,
    pub order: i64,
    pub enabled: bool,
    pub module: Vec<u8>,
}

/// The module's SHA-256, hex: its name in the store and in the compiled-rule cache.
pub fn module_hash(wasm: &[u8]) -> String {
    hex::encode(crate::digest::sha256(wasm))
}

/// Auth0's rule-name rule: letters, digits, spaces and `-`, starting and ending with a letter
/// or digit.
pub fn validate_name(name: &str) -> Result<(), ManageError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ManageError::invalid(format!(
            "The rule name is longer than {MAX_NAME_CHARS} characters."
        )));
    }
    if !name.chars().all(allowed) || !edge(name.chars().next()) || !edge(name.chars().last()) {
        return Err(ManageError::invalid(format!(
            "The rule name {name:?} is invalid: use letters, digits, spaces and '-', starting \
             and ending with a letter or digit."
        )));
    }
    Ok(())
}

fn validate_order(order: i64) -> Result<(), ManageError> {
    if order < 0 {
        return Err(ManageError::invalid("The rule order must be 0 or more."));
    }
    Ok(())
}

/// Checks a module with the engine; the reason is the engine's own. Returns the module's hash
/// and its ABI version.
fn checked_module(check: &dyn ModuleCheck, wasm: &[u8]) -> Result<(String, u32), ManageError> {
    let abi_version = check
        .check(wasm)
        .map_err(|reason| ManageError::invalid(format!("The rule module was refused: {reason}")))?;
    Ok((module_hash(wasm), abi_version))
}

/// The set's invariants, checked on every set a change produces.
fn validate_set(set: &RuleSet) -> Result<(), ManageError> {
    if set.rules.len() > MAX_RULES {
        return Err(ManageError::invalid(format!(
            "A tenant may have at most {MAX_RULES} rules."
        )));
    }
    for (i, rule) in set.rules.iter().enumerate() {
        for other in set.rules.iter().skip(i + 1) {
            if other.name == rule.name {
                return Err(ManageError::Conflict(format!(
                    "A rule named {:?} already exists.",
                    rule.name
                )));
            }
            if other.order == rule.order {
                return Err(ManageError::invalid(format!(
                    "Another rule already has order {}; each rule needs its own.",
                    rule.order
                )));
            }
        }
    }
    Ok(())
}

/// Reads the set, lets `change` make the next one, and writes it if no other writer moved the
/// set on in between; otherwise starts again from what the other writer left.
fn swap<T>(
    store: &dyn Store,
    tenant: &str,
    modules: &[(&str, &[u8])],
    mut change: impl FnMut(&mut RuleSet) -> Result<T, ManageError>,
) -> Result<T, ManageError> {
    for _ in 0..ATTEMPTS {
        let current = store.rule_set(tenant)?;
        let mut next = current.clone();
        let result = change(&mut next)?;
        next.rules.sort_by_key(|rule| rule.order);
        validate_set(&next)?;
        next.version = current.version + 1;
        let named: Vec<&str> = next.module_hashes().collect();
        let needed: Vec<(&str, &[u8])> = modules
            .iter()
            .filter(|(hash, _)| named.contains(hash))
            .copied()
            .collect();
        if store.put_rule_set(tenant, current.version, &next, &needed)? {
            return Ok(result);
        }
    }
    Err(ManageError::Busy(
        "The tenant's rules kept changing under this request; retry.".into(),
    ))
}

/// The tenant's rules, in the order they run.
pub fn list(store: &dyn Store, tenant: &str) -> Result<Vec<RuleRecord>, ManageError> {
    Ok(store.rule_set(tenant)?.rules)
}

/// One rule, or `NotFound`.
pub fn get(store: &dyn Store, tenant: &str, id: &str) -> Result<RuleRecord, ManageError> {
    store
        .rule_set(tenant)?
        .rule(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ManageError {
    ManageError::NotFound(format!("The rule {id:?} does not exist."))
}

/// Creates a rule from an uploaded module; nothing is stored if the engine refuses it.
pub fn create(
    store: &dyn Store,
    check: &dyn ModuleCheck,
    tenant: &str,
    new: NewRule<'_>,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<RuleRecord, ManageError> {
    validate_name(new.name)?;
    if let Some(order) = new.order {
        validate_order(order)?;
    }
    let (hash, abi_version) = checked_module(check, new.module)?;
    let id = secret::new_id("rul", entropy);
    swap(store, tenant, &[(&hash, new.module)], |set| {
        let order = new.order.unwrap_or_else(|| {
            set.rules
                .iter()
                .map(|rule| rule.order.saturating_add(1))
                .max()
                .unwrap_or(1)
        });
        let rule = RuleRecord {
            id: id.clone(),
            name: new.name.to_owned(),
            order,
            enabled: new.enabled,
            module_hash: hash.clone(),
            module_size: new.module.len() as u64,
            abi_version,
            created_at: now,
            updated_at: now,
        };
        set.rules.push(rule.clone());
        Ok(rule)
    })
}

/// Updates a rule: a new module version, its name, order or whether it runs.
pub fn update(
    store: &dyn Store,
    check: &dyn ModuleCheck,
    tenant: &str,
    id: &str,
    update: RuleUpdate<'_>,
    now: UnixMillis,
) -> Result<RuleRecord, ManageError> {
    if let Some(name) = update.name {
        validate_name(name)?;
    }
    if let Some(order) = update.order {
        validate_order(order)?;
    }
    let module = match update.module {
        Some(wasm) => Some((checked_module(check, wasm)?, wasm)),
        None => None,
    };
    let modules: Vec<(&str, &[u8])> = module
        .iter()
        .map(|((hash, _), wasm)| (hash.as_str(), *wasm))
        .collect();
    swap(store, tenant, &modules, |set| {
        let rule = set
            .rules
            .iter_mut()
            .find(|rule| rule.id == id)
            .ok_or_else(|| not_found(id))?;
        if let Some(name) = update.name {
            rule.name = name.to_owned();
        }
        if let Some(order) = update.order {
            rule.order = order;
        }
        if let Some(enabled) = update.enabled {
            rule.enabled = enabled;
        }
        if let Some(((hash, abi_version), wasm)) = &module {
            rule.module_hash = hash.clone();
            rule.module_size = wasm.len() as u64;
            rule.abi_version = *abi_version;
        }
        rule.updated_at = now;
        Ok(rule.clone())
    })
}

/// Deletes a rule; its module goes with it unless another rule runs the same one.
pub fn delete(store: &dyn Store, tenant: &str, id: &str) -> Result<(), ManageError> {
    swap(store, tenant, &[], |set| {
        let before = set.rules.len();
        set.rules.retain(|rule| rule.id != id);
        if set.rules.len() == before {
            return Err(not_found(id));
        }
        Ok(())
    })
}

/// Makes the tenant's rules exactly `declared` (the seed file's way): a rule keeps its id when
/// its name is still declared, rules no longer declared are deleted. Every module the tenant
/// does not already run is checked before anything is written; one it runs was checked when
/// it was stored, so a seed applied at each start compiles nothing it did not change (the
/// server compiles a module at its first use instead).
pub fn replace_all(
    store: &dyn Store,
    check: &dyn ModuleCheck,
    tenant: &str,
    declared: &[DeclaredRule],
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<(), ManageError> {
    let current = store.rule_set(tenant)?;
    let mut checked = Vec::with_capacity(declared.len());
    for rule in declared {
        validate_name(&rule.name)?;
        validate_order(rule.order)?;
        let hash = module_hash(&rule.module);
        // A module the tenant already runs passed the check when it was stored, with the
        // version its record carries.
        let running_version = current
            .rules
            .iter()
            .find(|r| r.module_hash == hash)
            .map(|r| r.abi_version);
        let abi_version = match running_version {
            Some(version) => version,
            None => {
                checked_module(check, &rule.module)
                    .map_err(|e| ManageError::invalid(format!("Rule {:?}: {e}", rule.name)))?
                    .1
            }
        };
        checked.push((rule, hash, abi_version, secret::new_id("rul", entropy)));
    }
    let modules: Vec<(&str, &[u8])> = checked
        .iter()
        .map(|(rule, hash, _, _)| (hash.as_str(), rule.module.as_slice()))
        .collect();
    swap(store, tenant, &modules, |set| {
        let old = std::mem::take(&mut set.rules);
        for (rule, hash, abi_version, new_id) in &checked {
            let existing = old.iter().find(|r| r.name == rule.name);
            let unchanged = existing.is_some_and(|r| {
                r.order == rule.order && r.enabled == rule.enabled && &r.module_hash == hash
            });
            set.rules.push(RuleRecord {
                id: existing.map_or_else(|| new_id.clone(), |r| r.id.clone()),
                name: rule.name.clone(),
                order: rule.order,
                enabled: rule.enabled,
                module_hash: hash.clone(),
                module_size: rule.module.len() as u64,
                abi_version: *abi_version,
                created_at: existing.map_or(now, |r| r.created_at),
                updated_at: match existing {
                    Some(r) if unchanged => r.updated_at,
                    _ => now,
                },
            });
        }
        Ok(())
    })
}

/// The configuration keys, never their values.
pub fn config_keys(store: &dyn Store, tenant: &str) -> Result<Vec<String>, ManageError> {
    Ok(store.rule_set(tenant)?.configuration.into_keys().collect())
}

/// Sets a configuration value (Auth0's `PUT /rules-configs/{key}`).
pub fn set_config(
    store: &dyn Store,
    tenant: &str,
    key: &str,
    value: &str,
) -> Result<(), ManageError> {
    validate_config_key(key)?;
    if value.is_empty() {
        return Err(ManageError::invalid(
            "The configuration value must not be empty.",
        ));
    }
    swap(store, tenant, &[], |set| {
        set.configuration.insert(key.to_owned(), value.to_owned());
        check_config_size(&set.configuration)
    })
}

/// Removes a configuration value; `NotFound` if it is not set.
pub fn unset_config(store: &dyn Store, tenant: &str, key: &str) -> Result<(), ManageError> {
    swap(store, tenant, &[], |set| {
        set.configuration
            .remove(key)
            .map(drop)
            .ok_or_else(|| ManageError::NotFound(format!("The rules config {key:?} is not set.")))
    })
}

/// Replaces the whole configuration (the seed file's way).
pub fn replace_config(
    store: &dyn Store,
    tenant: &str,
    configuration: &BTreeMap<String, String>,
) -> Result<(), ManageError> {
    for key in configuration.keys() {
        validate_config_key(key)?;
    }
    check_config_size(configuration)?;
    swap(store, tenant, &[], |set| {
        set.configuration = configuration.clone();
        Ok(())
    })
}

/// Auth0's key rule: 1 to 127 of letters, digits and `_-@*+:`.
fn validate_config_key(key: &str) -> Result<(), ManageError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-@*+:".contains(c);
    if key.is_empty() || key.chars().count() > MAX_CONFIG_KEY_CHARS || !key.chars().all(allowed) {
        return Err(ManageError::invalid(format!(
            "The configuration key {key:?} is invalid: use 1 to {MAX_CONFIG_KEY_CHARS} letters, \
             digits and _-@*+:"
        )));
    }
    Ok(())
}

fn check_config_size(configuration: &BTreeMap<String, String>) -> Result<(), ManageError> {
    let bytes: usize = configuration.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_CONFIG_BYTES {
        return Err(ManageError::invalid(format!(
            "The rules configuration would be {bytes} bytes; at most {MAX_CONFIG_BYTES} are \
             allowed, since every rule call carries it."
        )));
    }
    Ok(())
}
