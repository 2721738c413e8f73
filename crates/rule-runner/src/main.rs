//! `rule-runner <module.wasm> --event <event.json>`: runs one rule the way production does.
//!
//! The module goes through the same upload validation and runs under the same default limits
//! as in the token service. The outcome is printed on stdout as JSON with the fuel used, the
//! duration and the log lines. The exit status is 0 when the rule ran (a deny is a successful
//! run), 1 when validation or execution failed (the typed error is on stderr), and 2 when the
//! command line or the files are wrong.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use rules_abi::RuleInput;
use rules_host::{ChainRule, HostConfig, RuleHost, RuleLimits};
use serde_json::json;

/// Run a Claimsmith rule module on an event with production validation and limits.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The rule module (.wasm).
    module: PathBuf,
    /// The event: a JSON file with `user`, `context` and `configuration` (`-` for stdin).
    /// Missing fields take their defaults; a missing `now` becomes the current time.
    #[arg(long)]
    event: PathBuf,
    /// The rule's name in errors and logs (default: the module's file name).
    #[arg(long)]
    name: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (wasm, input) = match read_inputs(&args) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("rule-runner: {error:#}");
            return ExitCode::from(2);
        }
    };
    match run(&args, &wasm, &input) {
        Ok(report) => {
            println!("{report:#}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rule-runner: {error}");
            ExitCode::from(1)
        }
    }
}

fn read_inputs(args: &Args) -> anyhow::Result<(Vec<u8>, RuleInput)> {
    let wasm = std::fs::read(&args.module)
        .with_context(|| format!("cannot read module {}", args.module.display()))?;
    let event = if args.event.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the event from stdin")?
    } else {
        std::fs::read_to_string(&args.event)
            .with_context(|| format!("cannot read event {}", args.event.display()))?
    };
    let mut input: RuleInput = serde_json::from_str(&event)
        .with_context(|| format!("event {} is not a valid rule input", args.event.display()))?;
    if input.now == 0 {
        input.now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
    }
    Ok((wasm, input))
}

/// Validates and runs; every error here is a typed host error, shown as is.
fn run(
    args: &Args,
    wasm: &[u8],
    input: &RuleInput,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let limits = RuleLimits::default();
    let host = RuleHost::new(HostConfig {
        pool_slots: 1,
        ..HostConfig::default()
    })?;
    let module = host
        .load(wasm, &limits)
        .map_err(|e| format!("invalid module: {e}"))?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.module
            .file_stem()
            .map_or("rule".into(), |stem| stem.to_string_lossy().into_owned())
    });
    let rules = [ChainRule {
        name,
        order: 0,
        enabled: true,
        module,
    }];
    let chain = host.run_chain(&rules, input, &limits)?;
    let run = chain.runs.first();
    if chain.outcome.redirect.is_some() && !input.context.protocol.is_interactive() {
        eprintln!(
            "rule-runner: note: on {} the token service refuses this redirect \
             (invalid_request: Redirection is not available on /oauth/token endpoint.)",
            input.context.protocol
        );
    }
    Ok(json!({
        "outcome": chain.outcome,
        "stoppedBy": chain.stopped_by,
        "fuelUsed": run.map(|r| r.fuel_used),
        "fuelLimit": limits.fuel,
        "durationMicros": run.map(|r| r.duration.as_micros() as u64),
        "log": run.map(|r| r.log.clone()).unwrap_or_default(),
        "logTruncated": run.is_some_and(|r| r.log_truncated),
    }))
}
