//! `cargo xtask demo`: runs every example rule, built from source, on a login event and on a
//! refresh-token event, and prints what each did.

use claimsmith_tests::{event, example_rules, host, rule};
use rules_abi::Protocol;
use rules_host::RuleLimits;

fn main() {
    let host = host();
    let limits = RuleLimits::default();
    println!("Claimsmith rules demo: each example rule on a password login and on a refresh.\n");
    println!("User auth0|alice (roles admin, editor) on client demo-app from 10.1.2.3;");
    println!(
        "app_metadata.blocked is set for the second refresh run of deny-blocked-on-refresh.\n"
    );
    for (name, wasm) in example_rules::ALL {
        println!("== {name} ({} KiB)", wasm.len() / 1024);
        let chain = [rule(&host, name, 1)];
        for protocol in [Protocol::OAuth2Password, Protocol::OAuth2RefreshToken] {
            let mut input = event(protocol.clone());
            if *name == "deny-blocked-on-refresh" {
                input
                    .user
                    .app_metadata
                    .insert("blocked".into(), true.into());
            }
            match host.run_chain(&chain, &input, &limits) {
                Ok(result) => {
                    let run = &result.runs[0];
                    let outcome = serde_json::to_string(&result.outcome).unwrap_or_default();
                    println!("  {protocol:<22} {outcome}");
                    println!(
                        "  {:<22} fuel {} in {} µs; log {:?}",
                        "",
                        run.fuel_used,
                        run.duration.as_micros(),
                        run.log
                    );
                    if result.outcome.redirect.is_some() && !protocol.is_interactive() {
                        println!(
                            "  {:<22} refused on the token endpoint: 400 invalid_request \
                             \"Redirection is not available on /oauth/token endpoint.\"",
                            ""
                        );
                    }
                }
                Err(error) => println!("  {protocol:<22} error: {error}"),
            }
        }
        println!();
    }
}
