//! Build with: `cargo build --release --target wasm32-unknown-unknown -p scopes-by-role`
//!
//! Narrows the access-token scope to what the user's roles allow. The tenant configuration's
//! `SCOPES_BY_ROLE` is a JSON object from role to allowed API scopes, e.g.
//! `{"admin": ["read:reports", "write:reports"], "viewer": ["read:reports"]}`. OpenID scopes
//! (`openid profile email address phone offline_access`) are never removed. It only narrows:
//! a scope that was not granted is never added. Without configuration, API scopes are removed.

use std::collections::BTreeMap;

use rules_sdk::{Api, Event, export_rule, log, serde_json};

const OPENID_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

fn on_token(event: &Event, api: &mut Api) {
    let policy = event
        .configuration
        .get("SCOPES_BY_ROLE")
        .map(|json| serde_json::from_str(json));
    let table: BTreeMap<String, Vec<String>> = match policy {
        Some(Ok(table)) => table,
        Some(Err(error)) => {
            log!("SCOPES_BY_ROLE is not a JSON object of role to scopes: {error}");
            api.access().deny("Scope policy is misconfigured.");
            return;
        }
        None => BTreeMap::new(),
    };
    // A few dozen entries at most: a list searched in order costs less than building a set.
    let allowed: Vec<&str> = event
        .context
        .authorization
        .roles
        .iter()
        .filter_map(|role| table.get(role))
        .flatten()
        .map(String::as_str)
        .chain(OPENID_SCOPES)
        .collect();
    let granted = &event.context.scope;
    let narrowed: Vec<&String> = granted
        .iter()
        .filter(|scope| allowed.contains(&scope.as_str()))
        .collect();
    if narrowed.len() != granted.len() {
        log!(
            "narrowed scope from {} to {} entries",
            granted.len(),
            narrowed.len()
        );
        api.access_token().set_scope(narrowed.into_iter().cloned());
    }
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{Protocol, testing};

    const POLICY: &str = r#"{"admin":["read:reports","write:reports"],"viewer":["read:reports"]}"#;

    fn scope_for(roles: &[&str], granted: &[&str], policy: Option<&str>) -> Option<Vec<String>> {
        let mut event = testing::event(Protocol::OAuth2Password);
        event.context.authorization.roles = roles.iter().map(|r| r.to_string()).collect();
        event.context.scope = granted.iter().map(|s| s.to_string()).collect();
        if let Some(policy) = policy {
            event
                .configuration
                .insert("SCOPES_BY_ROLE".into(), policy.into());
        }
        let outcome = testing::run(on_token, &event).outcome;
        assert!(outcome.deny.is_none());
        outcome.access_token_scope
    }

    #[test]
    fn viewers_lose_write_scopes() {
        let scope = scope_for(
            &["viewer"],
            &["openid", "read:reports", "write:reports"],
            Some(POLICY),
        );
        assert_eq!(scope.unwrap(), ["openid", "read:reports"]);
    }

    #[test]
    fn admins_keep_everything_they_were_granted() {
        assert_eq!(
            scope_for(&["admin"], &["openid", "write:reports"], Some(POLICY)),
            None
        );
    }

    #[test]
    fn nothing_is_ever_added() {
        assert_eq!(scope_for(&["admin"], &["openid"], Some(POLICY)), None);
    }

    #[test]
    fn without_policy_only_openid_scopes_remain() {
        let scope = scope_for(
            &["admin"],
            &["openid", "offline_access", "read:reports"],
            None,
        );
        assert_eq!(scope.unwrap(), ["openid", "offline_access"]);
    }

    #[test]
    fn a_bad_policy_fails_closed() {
        let mut event = testing::event(Protocol::OAuth2Password);
        event
            .configuration
            .insert("SCOPES_BY_ROLE".into(), "[1,2]".into());
        let deny = testing::run(on_token, &event).outcome.deny.unwrap();
        assert_eq!(deny.description, "Scope policy is misconfigured.");
    }
}
