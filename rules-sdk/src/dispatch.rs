//! The safe core of a rule call, shared by the wasm export and the native test harness:
//! ABI version 2 input bytes in, outcome bytes out.

use rules_abi::{Deny, DenyError, RuleOutcome};

use crate::{Api, Event, Rule};

const SERIALIZE_FAILED: &[u8] =
    br#"{"deny":{"error":"access_denied","description":"The rule's outcome could not be serialized."}}"#;

/// Reads the input's table, runs `rule`, and serializes its outcome. A rule that cannot read
/// its input (the table, or any member it read) refuses the issuance (fail closed) rather
/// than issuing tokens unchecked.
pub(crate) fn dispatch(input: &'static [u8], rule: Rule) -> Vec<u8> {
    // Left over from an earlier call in this instance (only native tests reuse one).
    crate::lazy::take_unreadable();
    let outcome = match Event::from_input(input) {
        Ok(event) => {
            // Like its input, the event lives as long as the instance: never dropped, since
            // nothing is freed in an instance thrown away after the call.
            let event: &'static Event = Box::leak(Box::new(event));
            let mut api = Api::new(event);
            rule(event, &mut api);
            match crate::lazy::take_unreadable() {
                None => api.into_outcome(),
                Some(error) => unreadable(&error),
            }
        }
        Err(error) => unreadable(&error.to_string()),
    };
    // Serializing these types cannot fail (every map key is a string); were it to, the
    // answer is still a refusal, never an empty "allow".
    serde_json::to_vec(&outcome).unwrap_or_else(|_| SERIALIZE_FAILED.to_vec())
}

fn unreadable(error: &str) -> RuleOutcome {
    RuleOutcome {
        deny: Some(Deny {
            error: DenyError::AccessDenied,
            description: format!("The rule could not read its input: {error}."),
        }),
        ..RuleOutcome::default()
    }
}
