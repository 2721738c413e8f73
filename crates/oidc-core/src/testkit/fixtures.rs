//! Records for tests: a tenant, clients of each kind, an API, users, families.

use std::collections::BTreeMap;

use crate::model::{
    Api, AuthMethod, Client, ClientType, RefreshPolicy, RuleRecord, RuleSet, SigningAlg, Tenant,
    UnixMillis, User,
};
use crate::refresh::RefreshFamily;
use crate::secret::Secret;

/// 2026-11-27T12:00:00Z, in milliseconds.
pub const T0: UnixMillis = 1_795_780_800_000;

/// The secret of every confidential fixture client.
pub const CLIENT_SECRET: &str = "fixture-client-secret-0123456789-abcdef";

/// The password of every fixture user.
pub const PASSWORD: &str = "fixture password, long enough";

pub const API: &str = "https://api.fixture.test/";

pub fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.to_owned(),
        issuer: format!("https://{id}.fixture.test/"),
        hosts: Vec::new(),
        signing_alg: SigningAlg::ES256,
    }
}

/// A client allowed every grant, rotating with `overlap_secs`.
pub fn client(id: &str, client_type: ClientType, overlap_secs: u64) -> Client {
    let confidential = client_type == ClientType::Confidential;
    Client {
        client_id: id.to_owned(),
        name: format!("Fixture {id}"),
        client_type,
        auth_method: if confidential {
            AuthMethod::ClientSecretPost
        } else {
            AuthMethod::None
        },
        secret_hash: confidential.then(|| Secret::new(CLIENT_SECRET).hash()),
        grant_types: [
            "password",
            "refresh_token",
            "client_credentials",
            "authorization_code",
            "implicit",
            "urn:ietf:params:oauth:grant-type:device_code",
        ]
        .map(str::to_owned)
        .to_vec(),
        redirect_uris: vec![callback(id)],
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        logout_revokes_refresh_tokens: false,
        metadata: BTreeMap::new(),
        refresh_token: RefreshPolicy {
            overlap_secs,
            ..RefreshPolicy::default()
        },
        id_token_lifetime_secs: 36_000,
        api_grants: BTreeMap::from([(API.to_owned(), vec!["read:things".to_owned()])]),
    }
}

/// The one redirect URI of fixture client `id`.
pub fn callback(id: &str) -> String {
    format!("https://{id}.app.test/callback")
}

pub fn api() -> Api {
    Api {
        identifier: API.to_owned(),
        name: "Fixture API".to_owned(),
        scopes: vec!["read:things".to_owned(), "write:things".to_owned()],
        allow_offline_access: true,
        access_token_lifetime_secs: 3600,
    }
}

/// A user without a password (set `password_hash` for the password grant).
pub fn user(id: &str, email: &str) -> User {
    User {
        user_id: id.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        username: None,
        name: Some(format!("User {id}")),
        nickname: None,
        given_name: None,
        family_name: None,
        picture: None,
        password_hash: None,
        app_metadata: Default::default(),
        user_metadata: Default::default(),
        roles: Vec::new(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        created_at: T0,
        updated_at: T0,
    }
}

/// A live family of `user_id` and `client_id`, created at `created_at`.
pub fn family(id: &str, user_id: &str, client_id: &str, created_at: UnixMillis) -> RefreshFamily {
    RefreshFamily::new(
        id.to_owned(),
        Secret::new(format!("{id}-token")).hash(),
        client_id,
        user_id,
        None,
        vec!["openid".to_owned(), "offline_access".to_owned()],
        &RefreshPolicy::default(),
        created_at,
    )
}

/// A rule record naming a module by `hash`.
pub fn rule(id: &str, order: i64, hash: &str) -> RuleRecord {
    RuleRecord {
        id: id.to_owned(),
        name: format!("rule {id}"),
        order,
        enabled: true,
        module_hash: hash.to_owned(),
        module_size: 4,
        abi_version: rules_abi::ABI_VERSION,
        created_at: T0,
        updated_at: T0,
    }
}

/// A rule set at `version` with one rule per hash, in order.
pub fn rule_set(version: u64, hashes: &[&str]) -> RuleSet {
    RuleSet {
        version,
        rules: hashes
            .iter()
            .zip(1..)
            .map(|(hash, order)| rule(&format!("rul_{order}"), order, hash))
            .collect(),
        configuration: BTreeMap::from([("KEY".to_owned(), "secret value".to_owned())]),
    }
}
