//! Build with: `cargo build --release --target wasm32-unknown-unknown -p deny-blocked-on-refresh`
//!
//! Refuses the refresh-token exchange when `app_metadata.blocked` is true, so an operator can
//! cut off a user's long-lived sessions without touching the login path. Logins (every other
//! protocol) are unaffected: they are checked at the login page.

use rules_sdk::{Api, Event, Protocol, Value, export_rule, log};

fn on_token(event: &Event, api: &mut Api) {
    if event.context.protocol != Protocol::OAuth2RefreshToken {
        return;
    }
    if event.user.app_metadata.get("blocked") == Some(&Value::Bool(true)) {
        log!("refused refresh for blocked user {}", event.user.user_id);
        api.access().deny("This account is blocked; sign in again.");
    }
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{DenyError, RuleInput, testing};

    fn blocked(protocol: Protocol) -> RuleInput {
        let mut event = testing::event(protocol);
        event
            .user
            .app_metadata
            .insert("blocked".into(), Value::Bool(true));
        event
    }

    #[test]
    fn blocked_users_cannot_refresh() {
        let run = testing::run(on_token, &blocked(Protocol::OAuth2RefreshToken));
        let deny = run.outcome.deny.expect("refused");
        assert_eq!(deny.error, DenyError::AccessDenied);
        assert_eq!(deny.description, "This account is blocked; sign in again.");
    }

    #[test]
    fn login_is_unaffected() {
        for protocol in [Protocol::OAuth2Password, Protocol::OidcBasicProfile] {
            assert_eq!(
                testing::run(on_token, &blocked(protocol)).outcome,
                Default::default()
            );
        }
    }

    #[test]
    fn unblocked_users_refresh() {
        let event = testing::event(Protocol::OAuth2RefreshToken);
        assert!(testing::run(on_token, &event).outcome.deny.is_none());
    }
}
