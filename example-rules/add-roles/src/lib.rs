//! Build with: `cargo build --release --target wasm32-unknown-unknown -p add-roles`
//!
//! Puts the user's roles into both tokens under a namespaced claim, the most common Auth0
//! rule. Roles come from `app_metadata.roles` and from RBAC (`context.authorization.roles`),
//! merged and de-duplicated. The namespace is the tenant configuration's `CLAIMS_NAMESPACE`,
//! or `https://claimsmith.example/`.

use rules_sdk::{Api, Event, export_rule, log};

const DEFAULT_NAMESPACE: &str = "https://claimsmith.example/";

fn on_token(event: &Event, api: &mut Api) {
    let namespace = event
        .configuration
        .get("CLAIMS_NAMESPACE")
        .map_or(DEFAULT_NAMESPACE, String::as_str);
    let from_metadata = event
        .user
        .app_metadata
        .get("roles")
        .and_then(|roles| roles.as_array())
        .into_iter()
        .flatten()
        .filter_map(|role| role.as_str().map(str::to_owned));
    let mut roles: Vec<String> = Vec::new();
    for role in from_metadata.chain(event.context.authorization.roles.iter().cloned()) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    let claim = format!("{namespace}roles");
    log!("{} has {} role(s)", event.user.user_id, roles.len());
    api.id_token()
        .set_custom_claim(claim.clone(), roles.clone());
    api.access_token().set_custom_claim(claim, roles);
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{Protocol, json, testing};

    #[test]
    fn roles_from_metadata_and_rbac_land_in_both_tokens() {
        let mut event = testing::event(Protocol::OAuth2Password);
        event
            .user
            .app_metadata
            .insert("roles".into(), json!(["admin", "editor", 7]));
        event.context.authorization.roles = vec!["editor".into(), "viewer".into()];
        let run = testing::run(on_token, &event);
        let expected = json!(["admin", "editor", "viewer"]);
        assert_eq!(
            run.outcome.id_token["https://claimsmith.example/roles"],
            expected
        );
        assert_eq!(
            run.outcome.access_token["https://claimsmith.example/roles"],
            expected
        );
        assert_eq!(run.log, ["auth0|test-user has 3 role(s)"]);
    }

    #[test]
    fn namespace_comes_from_configuration() {
        let mut event = testing::event(Protocol::OAuth2RefreshToken);
        event
            .configuration
            .insert("CLAIMS_NAMESPACE".into(), "https://acme.test/".into());
        let outcome = testing::run(on_token, &event).outcome;
        assert_eq!(outcome.id_token["https://acme.test/roles"], json!([]));
    }
}
