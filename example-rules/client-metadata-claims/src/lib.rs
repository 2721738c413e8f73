//! Build with: `cargo build --release --target wasm32-unknown-unknown -p client-metadata-claims`
//!
//! Copies the client's `client_metadata` and the issuing `protocol` into the access token, so
//! an API can tell which application and which flow a token came from without a lookup.

use rules_sdk::{Api, Event, export_rule};

const NAMESPACE: &str = "https://claimsmith.example/";

fn on_token(event: &Event, api: &mut Api) {
    let mut access_token = api.access_token();
    access_token.set_custom_claim(
        format!("{NAMESPACE}protocol"),
        event.context.protocol.as_str(),
    );
    access_token.set_custom_claim(
        format!("{NAMESPACE}client_name"),
        event.context.client_name.as_str(),
    );
    let metadata: rules_sdk::Claims = event
        .context
        .client_metadata
        .iter()
        .map(|(key, value)| (key.clone(), value.as_str().into()))
        .collect();
    access_token.set_custom_claim(format!("{NAMESPACE}client_metadata"), metadata);
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{Protocol, json, testing};

    #[test]
    fn metadata_and_protocol_land_in_the_access_token() {
        let mut event = testing::event(Protocol::OAuth2RefreshToken);
        event
            .context
            .client_metadata
            .insert("tier".into(), "gold".into());
        let outcome = testing::run(on_token, &event).outcome;
        assert_eq!(
            outcome.access_token[&format!("{NAMESPACE}protocol")],
            json!("oauth2-refresh-token")
        );
        assert_eq!(
            outcome.access_token[&format!("{NAMESPACE}client_name")],
            json!("Test Client")
        );
        assert_eq!(
            outcome.access_token[&format!("{NAMESPACE}client_metadata")],
            json!({"tier": "gold"})
        );
        assert!(outcome.id_token.is_empty());
    }
}
