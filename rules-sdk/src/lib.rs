//! Write Claimsmith rules in Rust.
//!
//! A rule is one function that sees the [`Event`] (the user and the issuance context, in the
//! shape of Auth0 Rules) and changes the tokens through the [`Api`] (in the shape of Auth0
//! Actions). [`export_rule!`] turns it into a module the Claimsmith host can run; the
//! [`testing`] module runs the very same code natively, so a rule is unit-tested with
//! `cargo test` and no WebAssembly at all.
//!
//! The event's members are decoded when the rule first reads them ([`Lazy`]): a rule pays for
//! the roles it reads, not for parsing the whole event. Modules are built for rule ABI
//! version 2, whose input says where each member lies; the host still runs version-1 modules.
//!
//! ```
//! use rules_sdk::{Api, Event, Protocol, export_rule, log};
//!
//! /// Puts the user's roles into both tokens, and refuses blocked users on refresh.
//! fn on_token(event: &Event, api: &mut Api) {
//!     if event.context.protocol == Protocol::OAuth2RefreshToken
//!         && event.user.app_metadata.get("blocked") == Some(&true.into())
//!     {
//!         api.access().deny("This account is blocked.");
//!         return;
//!     }
//!     let roles = event.context.authorization.roles.clone();
//!     log!("{} roles for {}", roles.len(), event.user.user_id);
//!     api.id_token().set_custom_claim("https://example.com/roles", roles.clone());
//!     api.access_token().set_custom_claim("https://example.com/roles", roles);
//! }
//!
//! export_rule!(on_token);
//!
//! // The same function, run natively as the host would run it:
//! let mut event = rules_sdk::testing::event(Protocol::OAuth2Password);
//! event.context.authorization.roles = vec!["admin".into()];
//! let run = rules_sdk::testing::run(on_token, &event);
//! assert_eq!(run.outcome.id_token["https://example.com/roles"], rules_sdk::json!(["admin"]));
//! assert_eq!(run.log, ["1 roles for auth0|test-user"]);
//! ```
//!
//! Build a rule with `cargo build --release --target wasm32-unknown-unknown` and a
//! `crate-type = ["cdylib"]` library; try it with the `rule-runner` binary.

mod api;
mod configuration;
mod dispatch;
mod event;
mod export;
mod lazy;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[doc(hidden)]
pub mod abi;

pub use api::{AccessApi, AccessTokenApi, Api, IdTokenApi, RedirectApi, RefreshTokenApi, UserApi};
pub use configuration::Configuration;
pub use event::{ContextView, Event, UserView};
pub use lazy::Lazy;
pub use rules_abi::{
    Authorization, Claims, Context, DenyError, Protocol, RefreshTokenInfo, Request, RuleInput,
    RuleOutcome, Stats, User,
};
pub use serde_json::{self, Value, json};

/// The signature of a rule.
pub type Rule = fn(&Event, &mut Api);

/// Not public API: what [`export_rule!`] expands to needs these paths.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::{alloc, on_token, write_log};
    pub use rules_abi;
}
