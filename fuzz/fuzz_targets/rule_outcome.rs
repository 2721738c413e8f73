//! The rule outcome decoder: a module's output is untrusted bytes. Decoding never panics, and
//! whatever it accepts encodes back to something it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(outcome) = rules_abi::decode_outcome(bytes, 64 * 1024) {
        let again = serde_json::to_vec(&outcome).expect("an outcome serializes");
        assert_eq!(
            rules_abi::decode_outcome(&again, usize::MAX).ok(),
            Some(outcome),
            "an accepted outcome survives a round trip"
        );
    }
});
