//! The OAuth 2.0 / OpenID Connect domain of Claimsmith, without IO.
//!
//! Grants, client authentication, token minting in Auth0's profile, claim filtering, and the
//! refresh-token policy (rotation, reuse detection, overlap window, lifetimes) live here.
//! Storage and rules are ports ([`Store`], [`RuleRunner`]) the server fills in; the clock is a
//! parameter (`now`) and randomness an [`Entropy`], so every decision is testable with fixed
//! inputs. Nothing here knows HTTP, sled or wasmtime.

// No panic is reachable from a request or an uploaded module.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod audit;
pub mod claims;
pub mod copy;
pub mod digest;
mod error;
pub mod grants;
pub mod ids;
pub mod keys;
pub mod login;
pub mod manage;
pub mod mint;
mod model;
pub mod refresh;
mod revoke;
pub mod rules;
pub mod scope;
pub mod secret;
pub mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod throttle;
mod userinfo;
pub mod vault;

pub use error::{ErrorCode, OAuthError};
pub use grants::{ClientCredentials, Issued, TokenContext, TokenRequest, TokenResponse, exchange};
pub use keys::{KeyError, KeyMaterial, StoredKey, TenantKeys};
pub use model::{
    Api, AuthMethod, Client, ClientType, MetadataUpdate, RefreshPolicy, RuleRecord, RuleSet,
    SigningAlg, Tenant, UnixMillis, User,
};
pub use refresh::token::RefreshKeys;
pub use revoke::revoke;
pub use rules::{RequestInfo, RuleRunError, RuleRunner};
pub use secret::{Entropy, Secret, SecretHash, SystemEntropy};
pub use store::{
    Change, FamilyWrite, FlowKind, FlowRecord, FlowWrite, MetaListener, PoolUse, Store, StoreError,
    StoredFamilyState, UserinfoWrite,
};
pub use throttle::{LoginThrottle, ThrottleSettings};
pub use userinfo::userinfo;
pub use vault::{OperatorKey, VaultError};

#[cfg(test)]
mod tests;
