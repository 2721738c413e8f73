//! The seed file: tenants, clients, APIs, users and rules in TOML, loaded at start so a
//! deployment (and the demo, and the tests) needs no management API.
//!
//! Loading is idempotent: tenants, clients, APIs and rules are replaced; users are created
//! only if absent (rules may have changed their metadata since); signing keys are generated
//! once per tenant and algorithm and kept, so tokens stay valid across restarts. Rules and
//! their configuration go through the same domain code as the management API, and a rule the
//! seed no longer declares is deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oidc_core::manage::{self, ManageError};
use oidc_core::secret::{self, SystemEntropy};
use oidc_core::{
    Api, AuthMethod, Client, ClientType, OperatorKey, RefreshPolicy, Secret, SigningAlg, Store,
    Tenant, UnixMillis, User, ids,
};
use rules_host::{RuleHost, RuleLimits};

use crate::rule_chain::EngineCheck;
use serde::Deserialize;

/// Client secrets must carry at least this many characters: they are hashed with SHA-256,
/// which is safe only for high-entropy secrets.
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

/// The whole seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<SeedTenant>,
    /// Where relative rule module paths start: the seed file's folder.
    #[serde(skip)]
    pub base: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTenant {
    pub id: String,
    /// The issuer, with a trailing slash: `http://127.0.0.1:8080/t/{id}/` for the path form.
    pub issuer: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default = "default_alg")]
    pub signing_alg: SigningAlg,
    #[serde(default)]
    pub rules_configuration: BTreeMap<String, String>,
    #[serde(default, rename = "client")]
    pub clients: Vec<SeedClient>,
    #[serde(default, rename = "api")]
    pub apis: Vec<SeedApi>,
    #[serde(default, rename = "user")]
    pub users: Vec<SeedUser>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<SeedRule>,
}

fn default_alg() -> SigningAlg {
    SigningAlg::RS256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedClient {
    pub client_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub client_type: ClientType,
    pub auth_method: AuthMethod,
    pub secret: Option<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    #[serde(default)]
    pub web_origins: Vec<String>,
    #[serde(default)]
    pub logout_revokes_refresh_tokens: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub refresh_token: Option<SeedRefreshPolicy>,
    #[serde(default = "default_id_token_lifetime")]
    pub id_token_lifetime_secs: u64,
    #[serde(default)]
    pub api_grants: BTreeMap<String, Vec<String>>,
}

fn default_id_token_lifetime() -> u64 {
    36_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRefreshPolicy {
    pub rotating: bool,
    #[serde(default)]
    pub overlap_secs: u64,
    pub absolute_lifetime_secs: Option<u64>,
    pub idle_lifetime_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApi {
    pub identifier: String,
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub allow_offline_access: bool,
    #[serde(default = "default_access_token_lifetime")]
    pub access_token_lifetime_secs: u64,
}

fn default_access_token_lifetime() -> u64 {
    86_400
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub user_id: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub app_metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub user_metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRule {
    pub name: String,
    pub order: i64,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Path to the `.wasm` module, relative to the seed file.
    pub module: PathBuf,
}

fn enabled() -> bool {
    true
}

/// Why a seed could not be loaded; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read seed file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seed file {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("tenant {tenant}: {reason}")]
    Invalid { tenant: String, reason: String },
    #[error("store: {0}")]
    Store(#[from] oidc_core::StoreError),
}

impl SeedError {
    fn managing(tenant: &str, error: ManageError) -> SeedError {
        match error {
            ManageError::Store(error) => SeedError::Store(error),
            other => SeedError::Invalid {
                tenant: tenant.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

impl Seed {
    pub fn load(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.into(),
            source,
        })?;
        let mut seed: Seed = toml::from_str(&text).map_err(|source| SeedError::Parse {
            path: path.into(),
            source: Box::new(source),
        })?;
        seed.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(seed)
    }

    /// Writes the seed into `store`, validating every rule module with `host` first; new
    /// signing keys are wrapped under `operator`.
    pub fn apply(
        &self,
        store: &dyn Store,
        host: &RuleHost,
        operator: &OperatorKey,
        now: UnixMillis,
    ) -> Result<(), SeedError> {
        for tenant in &self.tenants {
            self.apply_tenant(tenant, store, host, operator, now)?;
        }
        store.flush()?;
        Ok(())
    }

    fn apply_tenant(
        &self,
        seed: &SeedTenant,
        store: &dyn Store,
        host: &RuleHost,
        operator: &OperatorKey,
        now: UnixMillis,
    ) -> Result<(), SeedError> {
        let invalid = |reason: String| SeedError::Invalid {
            tenant: seed.id.clone(),
            reason,
        };
        if !seed.issuer.ends_with('/')
            || !(seed.issuer.starts_with("https://") || seed.issuer.starts_with("http://"))
        {
            return Err(invalid(format!(
                "issuer {:?} must be an http(s) URL ending in '/'",
                seed.issuer
            )));
        }
        ids::validate_tenant(&seed.id).map_err(|e| invalid(format!("the id {e}")))?;
        let named = |kind: &str, id: &str| {
            ids::validate(id).map_err(|e| invalid(format!("{kind} {id:?}: the id {e}")))
        };
        for client in &seed.clients {
            named("client", &client.client_id)?;
        }
        for api in &seed.apis {
            named("api", &api.identifier)?;
        }
        for user in &seed.users {
            named("user", &user.user_id)?;
            for login in user.email.iter().chain(user.username.iter()) {
                named("login", login)?;
            }
        }
        for rule in &seed.rules {
            named("rule", &rule.name)?;
        }
        for name in &seed.hosts {
            named("host", name)?;
        }
        let max_rules = RuleLimits::default().rules_per_chain;
        if seed.rules.len() > max_rules {
            return Err(invalid(format!(
                "{} rules; a tenant may have at most {max_rules}",
                seed.rules.len()
            )));
        }
        let mut rules = Vec::new();
        for rule in &seed.rules {
            let path = self.base.join(&rule.module);
            let wasm = std::fs::read(&path).map_err(|e| {
                invalid(format!(
                    "rule {}: cannot read {}: {e}",
                    rule.name,
                    path.display()
                ))
            })?;
            rules.push(manage::rules::DeclaredRule {
                name: rule.name.clone(),
                order: rule.order,
                enabled: rule.enabled,
                module: wasm,
            });
        }
        let managing = |e| SeedError::managing(&seed.id, e);
        let limits = RuleLimits::default();
        let check = EngineCheck {
            host,
            limits: &limits,
        };
        // Every module is checked before the tenant record is written.
        for rule in &rules {
            use oidc_core::manage::rules::ModuleCheck;
            check
                .check(&rule.module)
                .map_err(|e| invalid(format!("rule {}: {e}", rule.name)))?;
        }
        store.put_tenant(&Tenant {
            id: seed.id.clone(),
            issuer: seed.issuer.clone(),
            hosts: seed.hosts.clone(),
            signing_alg: seed.signing_alg,
        })?;
        manage::tenants::ensure_signing_key(
            store,
            operator,
            &seed.id,
            seed.signing_alg,
            now,
            &mut SystemEntropy,
        )
        .map_err(managing)?;
        manage::tenants::ensure_management_api(store, &seed.id, &seed.issuer).map_err(managing)?;
        for client in &seed.clients {
            store.put_client(&seed.id, &client_record(client).map_err(invalid)?)?;
        }
        for api in &seed.apis {
            store.put_api(
                &seed.id,
                &Api {
                    identifier: api.identifier.clone(),
                    name: api.name.clone(),
                    scopes: api.scopes.clone(),
                    allow_offline_access: api.allow_offline_access,
                    access_token_lifetime_secs: api.access_token_lifetime_secs,
                },
            )?;
        }
        for user in &seed.users {
            if store.user(&seed.id, &user.user_id)?.is_none() {
                store.put_user(&seed.id, &user_record(user, now).map_err(invalid)?)?;
            }
        }
        manage::rules::replace_all(store, &check, &seed.id, &rules, now, &mut SystemEntropy)
            .map_err(managing)?;
        manage::rules::replace_config(store, &seed.id, &seed.rules_configuration)
            .map_err(managing)?;
        self.forget_undeclared(seed, store, now).map_err(managing)?;
        Ok(())
    }
}

impl Seed {
    /// The seed owns the tenants it declares: clients, APIs and users it no longer declares
    /// are deleted (a user's refresh tokens with it), through the same domain code as the
    /// management API. The tenant's management API stays: it is the tenant's own.
    fn forget_undeclared(
        &self,
        seed: &SeedTenant,
        store: &dyn Store,
        now: UnixMillis,
    ) -> Result<(), ManageError> {
        for client in manage::clients::list(store, &seed.id)? {
            if !seed.clients.iter().any(|c| c.client_id == client.client_id) {
                manage::clients::delete(store, &seed.id, &client.client_id)?;
            }
        }
        let management = manage::tenants::management_audience(&seed.issuer);
        for api in manage::apis::list(store, &seed.id)? {
            let declared = seed.apis.iter().any(|a| a.identifier == api.identifier);
            if !declared && api.identifier != management {
                store.delete_api(&seed.id, &api.identifier)?;
            }
        }
        let (users, _) = manage::users::list(store, &seed.id, 0, usize::MAX)?;
        for user in users {
            if !seed.users.iter().any(|u| u.user_id == user.user_id) {
                manage::users::delete(store, &seed.id, &user.user_id, now)?;
            }
        }
        Ok(())
    }
}

fn client_record(seed: &SeedClient) -> Result<Client, String> {
    let secret_hash = match (&seed.secret, seed.client_type) {
        (Some(secret), _) if secret.len() < MIN_CLIENT_SECRET_LEN => {
            return Err(format!(
                "client {}: the secret must be at least {MIN_CLIENT_SECRET_LEN} characters",
                seed.client_id
            ));
        }
        (Some(secret), ClientType::Confidential) => Some(Secret::new(secret.clone()).hash()),
        (None, ClientType::Confidential) => {
            return Err(format!(
                "client {}: a confidential client needs a secret",
                seed.client_id
            ));
        }
        (Some(_), _) => {
            return Err(format!(
                "client {}: a public client has no secret",
                seed.client_id
            ));
        }
        (None, _) => None,
    };
    if (seed.auth_method == AuthMethod::None) != secret_hash.is_none() {
        return Err(format!(
            "client {}: auth_method 'none' is for public clients only",
            seed.client_id
        ));
    }
    let refresh_token = seed
        .refresh_token
        .as_ref()
        .map_or_else(RefreshPolicy::default, |policy| RefreshPolicy {
            rotating: policy.rotating,
            overlap_secs: policy.overlap_secs,
            absolute_lifetime_secs: policy.absolute_lifetime_secs,
            idle_lifetime_secs: policy.idle_lifetime_secs,
        });
    Ok(Client {
        client_id: seed.client_id.clone(),
        name: seed.name.clone(),
        client_type: seed.client_type,
        auth_method: seed.auth_method,
        secret_hash,
        grant_types: seed.grant_types.clone(),
        redirect_uris: seed.redirect_uris.clone(),
        allowed_logout_urls: seed.allowed_logout_urls.clone(),
        web_origins: seed.web_origins.clone(),
        logout_revokes_refresh_tokens: seed.logout_revokes_refresh_tokens,
        metadata: seed.metadata.clone(),
        refresh_token,
        id_token_lifetime_secs: seed.id_token_lifetime_secs,
        api_grants: seed.api_grants.clone(),
    })
}

fn user_record(seed: &SeedUser, now: UnixMillis) -> Result<User, String> {
    let password_hash =
        secret::hash_password(&Secret::new(seed.password.clone()), &mut SystemEntropy)?;
    Ok(User {
        user_id: seed.user_id.clone(),
        email: seed.email.clone(),
        email_verified: seed.email_verified,
        username: seed.username.clone(),
        name: seed.name.clone(),
        nickname: seed.nickname.clone(),
        given_name: seed.given_name.clone(),
        family_name: seed.family_name.clone(),
        picture: seed.picture.clone(),
        password_hash: Some(password_hash),
        app_metadata: seed.app_metadata.clone(),
        user_metadata: seed.user_metadata.clone(),
        roles: seed.roles.clone(),
        blocked: seed.blocked,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oidc_core::testkit::MemoryStore;

    fn apply(text: &str) -> Result<MemoryStore, SeedError> {
        let mut seed: Seed = toml::from_str(text).map_err(|source| SeedError::Parse {
            path: "t".into(),
            source: Box::new(source),
        })?;
        seed.base = std::env::temp_dir();
        let store = MemoryStore::new();
        let host = RuleHost::new(rules_host::HostConfig {
            pool_slots: 1,
            ..Default::default()
        })
        .unwrap();
        seed.apply(&store, &host, &OperatorKey::insecure_dev(), 1)
            .map(|()| store)
    }

    const TENANT: &str =
        "[[tenant]]\nid = \"t\"\nissuer = \"https://t.test/\"\nsigning_alg = \"ES256\"\n";

    #[test]
    fn a_valid_seed_creates_the_tenant_and_one_wrapped_key_that_stays() {
        let store = apply(TENANT).unwrap();
        assert_eq!(
            store.tenant("t").unwrap().unwrap().issuer,
            "https://t.test/"
        );
        let keys = store.keys("t").unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].unwrap("t", &OperatorKey::insecure_dev()).is_ok());
        assert!(
            keys[0]
                .unwrap("other", &OperatorKey::insecure_dev())
                .is_err()
        );
    }

    #[test]
    fn bad_seeds_say_what_to_fix() {
        let error = |text: &str| apply(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error(&TENANT.replace("https://t.test/", "https://t.test"))
                .contains("must be an http(s) URL ending in '/'")
        );
        assert!(error(&TENANT.replace("id = \"t\"", "id = \"t/x\"")).contains("letters, digits"));
        let short_secret = format!(
            "{TENANT}[[tenant.client]]\nclient_id = \"c\"\nname = \"C\"\ntype = \"confidential\"\nauth_method = \"client_secret_post\"\nsecret = \"short\"\ngrant_types = []\n"
        );
        assert!(error(&short_secret).contains("at least 32 characters"));
        let nul_client = short_secret.replace("client_id = \"c\"", "client_id = \"c\\u0000d\"");
        assert!(
            error(&nul_client).contains("client \"c\\0d\": the id contains a control character"),
            "{}",
            error(&nul_client)
        );
        let rules: String = (0..21)
            .map(|i| {
                format!("[[tenant.rule]]\nname = \"r{i}\"\norder = {i}\nmodule = \"r.wasm\"\n")
            })
            .collect();
        assert!(error(&format!("{TENANT}{rules}")).contains("at most 20"));
        let missing = format!(
            "{TENANT}[[tenant.rule]]\nname = \"r\"\norder = 1\nmodule = \"no-such-module.wasm\"\n"
        );
        assert!(error(&missing).contains("rule r: cannot read"));
        assert!(
            error("[[tenant]]\nid = \"t\"\nissuer = \"https://t.test/\"\nsurprise = 1\n")
                .contains("unknown field")
        );
    }

    #[test]
    fn a_second_tenant_cannot_take_a_host_name() {
        let two = format!(
            "{TENANT}hosts = [\"login.t.test\"]\n[[tenant]]\nid = \"u\"\nissuer = \"https://u.test/\"\nhosts = [\"LOGIN.t.test\"]\n"
        );
        let error = apply(&two).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains("host login.t.test belongs to tenant t"),
            "{error}"
        );
    }
}
