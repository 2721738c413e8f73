//! Builds the example rules from source for wasm32-unknown-unknown, and the hand-written WAT
//! rule, so every test runs the modules a rule author would build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The example-rules crates, by package name. Their modules are `<name with _>.wasm`.
const RUST_RULES: [&str; 6] = [
    "add-roles",
    "deny-blocked-on-refresh",
    "redirect-to-terms",
    "client-metadata-claims",
    "ip-allowlist",
    "scopes-by-role",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir
        .parent()
        .expect("tests/ sits in the workspace root");
    let examples = root.join("example-rules");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    for watched in ["Cargo.toml", "Cargo.lock", "wat"] {
        println!(
            "cargo:rerun-if-changed={}",
            examples.join(watched).display()
        );
    }
    for rule in RUST_RULES {
        println!("cargo:rerun-if-changed={}", examples.join(rule).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("rules-sdk").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("crates/rules-abi").display()
    );

    // One target dir shared by every profile (test, clippy, bench), beside the workspace's.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("example-rules");
    build_rust_rules(&examples, &target_dir);

    let mut consts = String::new();
    let mut all = String::from(
        "/// Every example rule: (name, module bytes).\npub const ALL: &[(&str, &[u8])] = &[\n",
    );
    for rule in RUST_RULES {
        let file = target_dir
            .join("wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", rule.replace('-', "_")));
        push_rule(&mut consts, &mut all, rule, &file);
    }
    let hello = wat::parse_file(examples.join("wat/hello.wat")).expect("hello.wat is valid WAT");
    let hello_path = out.join("hello_wat.wasm");
    fs::write(&hello_path, hello).expect("OUT_DIR is writable");
    push_rule(&mut consts, &mut all, "hello-wat", &hello_path);
    all.push_str("];\n");
    fs::write(out.join("example_rules.rs"), consts + &all).expect("OUT_DIR is writable");
}

fn push_rule(consts: &mut String, all: &mut String, name: &str, file: &Path) {
    let ident = name.replace('-', "_").to_uppercase();
    consts.push_str(&format!(
        "/// The `{name}` example rule, built from source.\npub const {ident}: &[u8] = include_bytes!({:?});\n",
        file.display().to_string()
    ));
    all.push_str(&format!("    ({name:?}, {ident}),\n"));
}

fn build_rust_rules(examples: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--manifest-path")
        .arg(examples.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags and wrappers (clippy's included) are for the host target.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building example-rules for wasm32-unknown-unknown failed; is the target installed? \
         (rustup target add wasm32-unknown-unknown)"
    );
}
