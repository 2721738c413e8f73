//! The safe core of a rule call, shared by the wasm export and the native test harness:
//! input bytes in, outcome bytes out.

use rules_abi::{Deny, DenyError, RuleOutcome};

use crate::{Api, Event, Rule};

const SERIALIZE_FAILED: &[u8] =
    br#"{"deny":{"error":"access_denied","description":"The rule's outcome could not be serialized."}}"#;

/// Parses the input, runs `rule`, and serializes its outcome. A rule that cannot read its
/// input refuses the issuance (fail closed) rather than issuing tokens unchecked.
pub(crate) fn dispatch(input: &[u8], rule: Rule) -> Vec<u8> {
    let outcome = match serde_json::from_slice::<Event>(input) {
        Ok(event) => {
            let mut api = Api::new(&event);
            rule(&event, &mut api);
            api.into_outcome()
        }
        Err(error) => RuleOutcome {
            deny: Some(Deny {
                error: DenyError::AccessDenied,
                description: format!("The rule could not read its input: {error}."),
            }),
            ..RuleOutcome::default()
        },
    };
    // Serializing these types cannot fail (every map key is a string); were it to, the
    // answer is still a refusal, never an empty "allow".
    serde_json::to_vec(&outcome).unwrap_or_else(|_| SERIALIZE_FAILED.to_vec())
}
