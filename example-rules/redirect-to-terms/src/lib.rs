//! Build with: `cargo build --release --target wasm32-unknown-unknown -p redirect-to-terms`
//!
//! Sends users who have not accepted the terms (`app_metadata.terms_accepted`) to the page in
//! the tenant configuration's `TERMS_URL`, then records the acceptance when they come back
//! (`redirect-callback`).
//!
//! It deliberately asks for the redirect in every flow: where no user is present (the
//! refresh-token exchange, the password grant) the host refuses it with
//! `invalid_request` "Redirection is not available on /oauth/token endpoint.", which is what
//! this example demonstrates. A production rule would check `api.redirect().can_redirect()`.

use rules_sdk::{Api, Event, Protocol, Value, export_rule, log};

const DEFAULT_TERMS_URL: &str = "https://claimsmith.example/terms";

fn on_token(event: &Event, api: &mut Api) {
    if event.user.app_metadata.get("terms_accepted") == Some(&Value::Bool(true)) {
        return;
    }
    if event.context.protocol == Protocol::RedirectCallback {
        api.user().set_app_metadata("terms_accepted", true);
        return;
    }
    let url = event
        .configuration
        .get("TERMS_URL")
        .map_or(DEFAULT_TERMS_URL, String::as_str);
    if !api.redirect().can_redirect() {
        log!(
            "asking for a redirect on {}, where the host will refuse it",
            event.context.protocol
        );
    }
    api.redirect().send_user_to(url);
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{json, testing};

    #[test]
    fn users_without_terms_are_sent_to_the_terms_page() {
        let run = testing::run(on_token, &testing::event(Protocol::OidcBasicProfile));
        assert_eq!(run.outcome.redirect.unwrap().url, DEFAULT_TERMS_URL);
        assert!(run.log.is_empty());
    }

    #[test]
    fn on_refresh_the_redirect_is_asked_for_but_cannot_happen() {
        let run = testing::run(on_token, &testing::event(Protocol::OAuth2RefreshToken));
        assert!(run.outcome.redirect.is_some());
        assert!(!Protocol::OAuth2RefreshToken.is_interactive());
        assert_eq!(
            run.log,
            ["asking for a redirect on oauth2-refresh-token, where the host will refuse it"]
        );
    }

    #[test]
    fn coming_back_records_acceptance() {
        let outcome = testing::run(on_token, &testing::event(Protocol::RedirectCallback)).outcome;
        assert_eq!(outcome.app_metadata["terms_accepted"], json!(true));
        assert!(outcome.redirect.is_none());
    }

    #[test]
    fn users_who_accepted_pass() {
        let mut event = testing::event(Protocol::OidcBasicProfile);
        event
            .user
            .app_metadata
            .insert("terms_accepted".into(), json!(true));
        event
            .configuration
            .insert("TERMS_URL".into(), "https://acme.test/tos".into());
        assert_eq!(testing::run(on_token, &event).outcome, Default::default());
    }
}
