//! The standard test seed: two tenants with overlapping client ids, every client kind, two
//! APIs (one without offline access), users, and the example rules.

/// `{base}` is replaced with the server's address.
pub const SEED: &str = r#"
[[tenant]]
id = "acme"
issuer = "{base}/t/acme/"
hosts = ["acme.test"]
signing_alg = "ES256"
rules_configuration = { SCOPES_BY_ROLE = '{"admin": ["read:reports", "write:reports"], "viewer": ["read:reports"]}' }

[[tenant.api]]
identifier = "https://api.acme.test/"
name = "Reports"
scopes = ["read:reports", "write:reports"]
allow_offline_access = true
access_token_lifetime_secs = 3600

[[tenant.api]]
identifier = "https://online-only.acme.test/"
name = "Online only"
scopes = ["read:things"]
allow_offline_access = false

[[tenant.client]]
client_id = "web"
name = "Acme Web"
type = "confidential"
auth_method = "client_secret_post"
secret = "web-secret-0123456789-0123456789-abcdef"
grant_types = ["password", "refresh_token"]
metadata = { tier = "gold" }
refresh_token = { rotating = true, overlap_secs = 10, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }

[[tenant.client]]
client_id = "strict"
name = "Acme Strict"
type = "confidential"
auth_method = "client_secret_basic"
secret = "strict-secret-0123456789-0123456789-abc"
grant_types = ["password", "refresh_token"]
refresh_token = { rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }

[[tenant.client]]
client_id = "legacy"
name = "Acme Legacy"
type = "confidential"
auth_method = "client_secret_post"
secret = "legacy-secret-0123456789-0123456789-abc"
grant_types = ["password", "refresh_token"]
refresh_token = { rotating = false, absolute_lifetime_secs = 7200, idle_lifetime_secs = 600 }

[[tenant.client]]
client_id = "spa"
name = "Acme SPA"
type = "spa"
auth_method = "none"
grant_types = ["password", "refresh_token"]
refresh_token = { rotating = true, overlap_secs = 0, absolute_lifetime_secs = 86400, idle_lifetime_secs = 3600 }

[[tenant.client]]
client_id = "no-refresh"
name = "Acme No Refresh"
type = "confidential"
auth_method = "client_secret_post"
secret = "norefresh-secret-0123456789-0123456789-a"
grant_types = ["password"]

[[tenant.client]]
client_id = "m2m"
name = "Acme Backend"
type = "confidential"
auth_method = "client_secret_basic"
secret = "m2m-secret-0123456789-0123456789-abcdefg"
grant_types = ["client_credentials"]
api_grants = { "https://api.acme.test/" = ["read:reports"] }

[[tenant.client]]
client_id = "manager"
name = "Acme Management"
type = "confidential"
auth_method = "client_secret_post"
secret = "manager-secret-0123456789-0123456789-ab"
grant_types = ["client_credentials"]
api_grants = { "{base}/t/acme/api/v2/" = ["read:rules", "create:rules", "update:rules", "delete:rules", "read:rules_configs", "update:rules_configs", "delete:rules_configs", "read:users", "create:users", "update:users", "delete:users", "read:refresh_tokens", "delete:refresh_tokens", "read:device_credentials", "delete:device_credentials", "read:clients", "create:clients", "update:clients", "delete:clients", "update:client_keys", "read:resource_servers", "create:resource_servers", "update:resource_servers", "delete:resource_servers", "read:signing_keys", "create:signing_keys", "update:signing_keys", "read:logs"] }

[[tenant.client]]
client_id = "rule-reader"
name = "Acme Rule Reader"
type = "confidential"
auth_method = "client_secret_post"
secret = "reader-secret-0123456789-0123456789-abc"
grant_types = ["client_credentials"]
api_grants = { "{base}/t/acme/api/v2/" = ["read:rules"] }

[[tenant.user]]
user_id = "auth0|alice"
email = "alice@acme.test"
email_verified = true
name = "Alice Acme"
password = "correct horse battery staple"
roles = ["admin"]
app_metadata = { roles = ["editor"] }

[[tenant.user]]
user_id = "auth0|bob"
email = "bob@acme.test"
password = "bob's long password"
blocked = true

[[tenant.user]]
user_id = "auth0|dave"
email = "dave@acme.test"
password = "dave's long password"
app_metadata = { blocked = true }

[[tenant.user]]
user_id = "auth0|carol"
email = "carol@acme.test"
password = "carol's long password"
roles = ["viewer"]

[[tenant.rule]]
name = "add-roles"
order = 10
module = "rules/add-roles.wasm"

[[tenant.rule]]
name = "client-metadata-claims"
order = 20
module = "rules/client-metadata-claims.wasm"

[[tenant.rule]]
name = "deny-blocked-on-refresh"
order = 30
module = "rules/deny-blocked-on-refresh.wasm"

[[tenant.rule]]
name = "scopes-by-role"
order = 40
module = "rules/scopes-by-role.wasm"

[[tenant]]
id = "globex"
issuer = "{base}/t/globex/"
signing_alg = "RS256"

[[tenant.api]]
identifier = "https://api.acme.test/"
name = "Same audience, other tenant"
scopes = ["read:reports"]
allow_offline_access = true

[[tenant.client]]
client_id = "web"
name = "Globex Web"
type = "confidential"
auth_method = "client_secret_post"
secret = "globex-web-secret-0123456789-0123456789"
grant_types = ["password", "refresh_token"]

[[tenant.user]]
user_id = "auth0|alice"
email = "alice@acme.test"
password = "globex password for alice"
"#;
