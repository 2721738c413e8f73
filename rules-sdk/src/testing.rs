//! Run a rule natively, exactly as the host would: the event goes through the host's ABI
//! version 2 encoding, the rule's entry point, and the host's strict outcome parser.

use std::cell::RefCell;

use rules_abi::{Protocol, RuleInput, RuleOutcome, decode_outcome};

use crate::Rule;

/// The outcome cap the host applies by default.
const OUTPUT_BYTES: usize = 64 * 1024;

/// What a native run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRun {
    pub outcome: RuleOutcome,
    pub log: Vec<String>,
}

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn capture_log(line: &str) {
    LOG.with(|log| log.borrow_mut().push(line.to_owned()));
}

/// Runs `rule` on `event`.
///
/// # Panics
///
/// If the rule's outcome would be refused by the host (too large, invalid), with the reason:
/// in a test, that is the failure to see.
pub fn run(rule: Rule, event: &RuleInput) -> TestRun {
    LOG.with(|log| log.borrow_mut().clear());
    // Leaked, as in a rule module, where the instance is thrown away after the call: a few KB
    // per run of a test.
    let input = Box::leak(
        rules_abi::members::encode(event)
            .expect("events serialize")
            .into_boxed_slice(),
    );
    let output = crate::dispatch::dispatch(input, rule);
    let outcome = decode_outcome(&output, OUTPUT_BYTES)
        .unwrap_or_else(|error| panic!("the host would refuse this outcome: {error}"));
    let log = LOG.with(|log| std::mem::take(&mut *log.borrow_mut()));
    TestRun { outcome, log }
}

/// A plausible event for `protocol`: tenant `test`, client `test-client`, user
/// `auth0|test-user` with a verified email, scope `openid profile email`, and on
/// `oauth2-refresh-token` a `refreshToken` record. Change its fields to fit the test.
pub fn event(protocol: Protocol) -> RuleInput {
    let mut event = RuleInput {
        now: 1_764_236_400_000,
        seed: 7,
        ..RuleInput::default()
    };
    event.user.user_id = "auth0|test-user".into();
    event.user.email = Some("test-user@example.com".into());
    event.user.email_verified = true;
    event.user.logins_count = 1;
    let context = &mut event.context;
    context.tenant = "test".into();
    context.client_id = "test-client".into();
    context.client_name = "Test Client".into();
    context.connection = "Username-Password-Authentication".into();
    context.connection_strategy = "auth0".into();
    context.request.ip = Some("203.0.113.7".into());
    context.stats.logins_count = 1;
    context.scope = ["openid", "profile", "email"].map(String::from).to_vec();
    if protocol == Protocol::OAuth2RefreshToken {
        context.refresh_token = Some(rules_abi::RefreshTokenInfo {
            id: "rtf_test".into(),
            client_id: "test-client".into(),
            user_id: "auth0|test-user".into(),
            created_at: event.now - 86_400_000,
            rotating: true,
            scope: context.scope.clone(),
            ..rules_abi::RefreshTokenInfo::default()
        });
    }
    context.protocol = protocol;
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Api, Event};
    use serde_json::json;

    fn everything(event: &Event, api: &mut Api) {
        api.id_token().set_custom_claim("https://x.test/id", 1);
        api.access_token()
            .set_custom_claim("https://x.test/at", "a");
        api.access_token().add_scope("read:reports");
        api.access_token().add_scope("read:reports");
        api.access_token().remove_scope("profile");
        api.user().set_app_metadata("seen", true);
        api.user().set_user_metadata("theme", "dark");
        api.refresh_token().set_expires_at(2_000);
        api.refresh_token().set_expires_at(1_000);
        api.refresh_token().set_expires_at(3_000);
        api.refresh_token().set_idle_expires_at(500);
        if !api.redirect().can_redirect() {
            crate::log!("no redirect on {}", event.context.protocol);
        }
    }

    #[test]
    fn every_api_call_reaches_the_outcome() {
        let run = run(everything, &event(Protocol::OAuth2RefreshToken));
        let outcome = run.outcome;
        assert_eq!(outcome.id_token["https://x.test/id"], json!(1));
        assert_eq!(outcome.access_token["https://x.test/at"], json!("a"));
        assert_eq!(
            outcome.access_token_scope.unwrap(),
            ["openid", "email", "read:reports"].map(String::from)
        );
        assert_eq!(outcome.app_metadata["seen"], json!(true));
        assert_eq!(outcome.user_metadata["theme"], json!("dark"));
        assert_eq!(
            outcome.refresh_token_expires_at,
            Some(1_000),
            "lifetimes only shrink"
        );
        assert_eq!(outcome.refresh_token_idle_expires_at, Some(500));
        assert_eq!(run.log, ["no redirect on oauth2-refresh-token"]);
    }

    fn gate(_: &Event, api: &mut Api) {
        api.access().unauthorized("nope");
        api.redirect().send_user_to("https://x.test/terms");
        api.refresh_token().revoke("lost");
    }

    #[test]
    fn refusals_and_redirects() {
        let outcome = run(gate, &event(Protocol::OidcBasicProfile)).outcome;
        let deny = outcome.deny.unwrap();
        assert_eq!(
            (deny.error, deny.description.as_str()),
            (rules_abi::DenyError::Unauthorized, "nope")
        );
        assert_eq!(outcome.redirect.unwrap().url, "https://x.test/terms");
        assert_eq!(outcome.revoke_refresh_token.unwrap().reason, "lost");
    }

    #[test]
    fn unreadable_input_fails_closed() {
        let output = crate::dispatch::dispatch(b"{not json", everything);
        let outcome = decode_outcome(&output, OUTPUT_BYTES).unwrap();
        let deny = outcome.deny.expect("a refusal");
        assert_eq!(deny.error, rules_abi::DenyError::AccessDenied);
        assert!(
            deny.description
                .starts_with("The rule could not read its input")
        );
        assert!(outcome.id_token.is_empty());
    }

    fn reads_metadata(event: &Event, api: &mut Api) {
        let plan = event.user.app_metadata.get("plan").cloned();
        api.id_token()
            .set_custom_claim("https://x.test/plan", plan.unwrap_or_default());
    }

    fn reads_the_protocol(event: &Event, api: &mut Api) {
        api.id_token()
            .set_custom_claim("https://x.test/protocol", event.context.protocol.as_str());
    }

    #[test]
    fn a_member_that_cannot_be_decoded_fails_closed_when_read() {
        let mut event = event(Protocol::OAuth2Password);
        event
            .user
            .app_metadata
            .insert("plan".into(), json!(["gold"]));
        let mut input = rules_abi::members::encode(&event).unwrap();
        // Same length, so the table still locates it: the table is sound, the member is not.
        let at = input
            .windows(8)
            .position(|window| window == br#"["gold"]"#)
            .unwrap();
        input[at..at + 8].copy_from_slice(br#"{"gold"]"#);
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());

        let outcome = decode_outcome(
            &crate::dispatch::dispatch(input, reads_metadata),
            OUTPUT_BYTES,
        )
        .unwrap();
        let deny = outcome.deny.expect("a refusal");
        assert!(
            deny.description
                .starts_with("The rule could not read its input: member user.app_metadata:"),
            "{}",
            deny.description
        );
        assert!(outcome.id_token.is_empty(), "nothing the rule asked for");

        // A rule that never reads the damaged member is not refused for it.
        let outcome = decode_outcome(
            &crate::dispatch::dispatch(input, reads_the_protocol),
            OUTPUT_BYTES,
        )
        .unwrap();
        assert_eq!(outcome.deny, None);
        assert_eq!(
            outcome.id_token["https://x.test/protocol"],
            json!("oauth2-password")
        );
    }

    fn reads_the_policy(event: &Event, api: &mut Api) {
        let policy = event.configuration.get("POLICY").cloned();
        api.id_token()
            .set_custom_claim("https://x.test/policy", policy.unwrap_or_default());
    }

    fn reads_the_other_setting(event: &Event, api: &mut Api) {
        let other = event.configuration.get("OTHER").cloned();
        api.id_token()
            .set_custom_claim("https://x.test/other", other.unwrap_or_default());
    }

    #[test]
    fn settings_are_decoded_one_by_one_and_a_damaged_one_fails_closed_when_read() {
        let mut event = event(Protocol::OAuth2Password);
        event
            .configuration
            .insert("POLICY".into(), "say \"hi\" \\ \u{e9}".into());
        event.configuration.insert("OTHER".into(), "xx".into());
        let run = run(reads_the_policy, &event);
        assert_eq!(
            run.outcome.id_token["https://x.test/policy"],
            json!("say \"hi\" \\ \u{e9}")
        );

        let mut input = rules_abi::members::encode(&event).unwrap();
        let at = input
            .windows(4)
            .position(|window| window == br#""xx""#)
            .unwrap();
        input[at..at + 4].copy_from_slice(br#"{xx}"#);
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let outcome =
            |rule| decode_outcome(&crate::dispatch::dispatch(input, rule), OUTPUT_BYTES).unwrap();
        assert_eq!(outcome(reads_the_policy).deny, None, "OTHER is never read");
        let deny = outcome(reads_the_other_setting).deny.expect("a refusal");
        assert!(
            deny.description
                .starts_with("The rule could not read its input: member configuration.OTHER:"),
            "{}",
            deny.description
        );
    }

    #[test]
    fn an_abi_v1_input_is_refused_not_misread() {
        let json = serde_json::to_vec(&event(Protocol::OAuth2Password)).unwrap();
        let json: &'static [u8] = Box::leak(json.into_boxed_slice());
        let outcome =
            decode_outcome(&crate::dispatch::dispatch(json, everything), OUTPUT_BYTES).unwrap();
        let deny = outcome.deny.expect("a refusal");
        assert!(
            deny.description.contains("malformed ABI v2 input"),
            "{}",
            deny.description
        );
    }

    #[test]
    fn log_lines_do_not_leak_between_runs() {
        let _ = run(everything, &event(Protocol::OAuth2RefreshToken));
        let second = run(everything, &event(Protocol::OAuth2Password));
        assert_eq!(second.log, ["no redirect on oauth2-password"]);
    }
}
