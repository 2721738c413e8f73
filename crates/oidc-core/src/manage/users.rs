//! A tenant's users: created with an Argon2id password, changed with Auth0's PATCH semantics
//! (metadata merged at the top level, `null` removing a key), blocked, deleted. Blocking or
//! deleting a user revokes every refresh token it holds.

use serde_json::{Map, Value};

use super::ManageError;
use super::refresh_tokens;
use crate::model::{UnixMillis, User};
use crate::secret::{self, Entropy, Secret};
use crate::store::{Store, StoreError};

/// The shortest password accepted (Auth0's "fair" policy).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted: Argon2 of a megabyte is a denial of service.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// All metadata of one user, serialized: it travels in every rule call.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

pub const BLOCKED: &str = "the user was blocked";
pub const DELETED: &str = "the user was deleted";

/// The profile fields a create or update may set; `None` leaves a field as it is (on create:
/// unset).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub roles: Option<Vec<String>>,
    pub blocked: Option<bool>,
    pub password: Option<Secret>,
    /// Merged into the user's: top-level keys replaced, `null` removes a key.
    pub app_metadata: Option<Map<String, Value>>,
    pub user_metadata: Option<Map<String, Value>>,
}

fn not_found(id: &str) -> ManageError {
    ManageError::NotFound(format!("The user {id:?} does not exist."))
}

/// One user, or `NotFound`.
pub fn get(store: &dyn Store, tenant: &str, id: &str) -> Result<User, ManageError> {
    crate::ids::validate(id).map_err(|_| not_found(id))?;
    store.user(tenant, id)?.ok_or_else(|| not_found(id))
}

/// Users by email, case-insensitively (Auth0's `users-by-email`): at most one per tenant
/// here, since an email is a login.
pub fn by_email(store: &dyn Store, tenant: &str, email: &str) -> Result<Vec<User>, ManageError> {
    if crate::ids::validate(email).is_err() {
        return Ok(Vec::new());
    }
    Ok(store
        .user_by_login(tenant, email)?
        .filter(|user| {
            user.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .into_iter()
        .collect())
}

/// A page of users in id order, from `offset`, with the total count.
pub fn list(
    store: &dyn Store,
    tenant: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<User>, usize), ManageError> {
    const CHUNK: usize = 500;
    let (mut page, mut total, mut after) = (Vec::new(), 0usize, None::<String>);
    loop {
        let chunk = store.users_page(tenant, after.as_deref(), CHUNK)?;
        for user in &chunk {
            if total >= offset && page.len() < limit {
                page.push(user.clone());
            }
            total += 1;
        }
        match chunk.last() {
            Some(last) if chunk.len() == CHUNK => after = Some(last.user_id.clone()),
            _ => return Ok((page, total)),
        }
    }
}

/// Creates a user of the tenant's database connection.
pub fn create(
    store: &dyn Store,
    tenant: &str,
    user_id: Option<String>,
    profile: Profile,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<User, ManageError> {
    let user_id = match user_id {
        Some(id) => {
            crate::ids::validate(&id)
                .map_err(|e| ManageError::invalid(format!("The user_id {e}.")))?;
            id
        }
        None => new_user_id(entropy),
    };
    if profile.email.is_none() && profile.username.is_none() {
        return Err(ManageError::invalid("A user needs an email or a username."));
    }
    if profile.password.is_none() {
        return Err(ManageError::invalid(
            "A user of the database connection needs a password.",
        ));
    }
    if store.user(tenant, &user_id)?.is_some() {
        return Err(ManageError::Conflict("The user already exists.".into()));
    }
    let mut user = User {
        user_id,
        email: None,
        email_verified: false,
        username: None,
        name: None,
        nickname: None,
        given_name: None,
        family_name: None,
        picture: None,
        password_hash: None,
        app_metadata: Map::new(),
        user_metadata: Map::new(),
        roles: Vec::new(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        created_at: now,
        updated_at: now,
    };
    apply(&mut user, profile, entropy)?;
    put(store, tenant, &user)?;
    Ok(user)
}

/// Changes a user. Blocking it revokes its refresh tokens.
pub fn update(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    profile: Profile,
    now: UnixMillis,
    entropy: &mut dyn Entropy,
) -> Result<User, ManageError> {
    let mut user = get(store, tenant, id)?;
    apply(&mut user, profile, entropy)?;
    if user.email.is_none() && user.username.is_none() {
        return Err(ManageError::invalid("A user needs an email or a username."));
    }
    user.updated_at = now;
    put(store, tenant, &user)?;
    if user.blocked {
        refresh_tokens::revoke_all(store, tenant, id, None, BLOCKED, now)?;
    }
    Ok(user)
}

/// Deletes a user after revoking every refresh token it holds.
pub fn delete(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    now: UnixMillis,
) -> Result<(), ManageError> {
    get(store, tenant, id)?;
    refresh_tokens::revoke_all(store, tenant, id, None, DELETED, now)?;
    if !store.delete_user(tenant, id)? {
        return Err(not_found(id));
    }
    Ok(())
}

fn put(store: &dyn Store, tenant: &str, user: &User) -> Result<(), ManageError> {
    match store.put_user(tenant, user) {
        Err(StoreError::Conflict(_)) => Err(ManageError::Conflict(
            "Another user already has this email or username.".into(),
        )),
        other => Ok(other?),
    }
}

/// `auth0|` and 24 hex digits, as Auth0 writes database users' ids.
fn new_user_id(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; 12];
    entropy.fill(&mut bytes);
    format!("auth0|{}", hex::encode(bytes))
}

fn apply(user: &mut User, profile: Profile, entropy: &mut dyn Entropy) -> Result<(), ManageError> {
    if let Some(email) = profile.email {
        validate_email(&email)?;
        user.email = Some(email);
    }
    if let Some(username) = profile.username {
        validate_username(&username)?;
        user.username = Some(username);
    }
    for (field, value) in [
        (&mut user.name, profile.name),
        (&mut user.nickname, profile.nickname),
        (&mut user.given_name, profile.given_name),
        (&mut user.family_name, profile.family_name),
        (&mut user.picture, profile.picture),
    ] {
        if let Some(value) = value {
            if value.len() > 300 || value.chars().any(char::is_control) {
                return Err(ManageError::invalid(
                    "Profile fields hold at most 300 bytes and no control characters.",
                ));
            }
            *field = Some(value);
        }
    }
    if let Some(verified) = profile.email_verified {
        user.email_verified = verified;
    }
    if let Some(roles) = profile.roles {
        if roles.iter().any(|role| crate::ids::validate(role).is_err()) {
            return Err(ManageError::invalid(
                "A role name must be 1 to 255 printable characters.",
            ));
        }
        user.roles = roles;
    }
    if let Some(blocked) = profile.blocked {
        user.blocked = blocked;
    }
    if let Some(password) = profile.password {
        let chars = password.expose().chars().count();
        if chars < MIN_PASSWORD_CHARS || password.expose().len() > MAX_PASSWORD_BYTES {
            return Err(ManageError::invalid(format!(
                "The password must have at least {MIN_PASSWORD_CHARS} characters (and at most \
                 {MAX_PASSWORD_BYTES} bytes)."
            )));
        }
        user.password_hash =
            Some(secret::hash_password(&password, entropy).map_err(ManageError::Internal)?);
    }
    if let Some(patch) = profile.app_metadata {
        merge(&mut user.app_metadata, patch);
    }
    if let Some(patch) = profile.user_metadata {
        merge(&mut user.user_metadata, patch);
    }
    let metadata_bytes = serde_json::to_vec(&(&user.app_metadata, &user.user_metadata))
        .map_or(usize::MAX, |bytes| bytes.len());
    if metadata_bytes > MAX_METADATA_BYTES {
        return Err(ManageError::invalid(format!(
            "The user's metadata would be {metadata_bytes} bytes; at most {MAX_METADATA_BYTES} \
             are allowed."
        )));
    }
    Ok(())
}

/// Auth0's metadata PATCH: top-level keys replaced, `null` removes a key.
pub fn merge(into: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            into.remove(&key);
        } else {
            into.insert(key, value);
        }
    }
}

fn validate_email(email: &str) -> Result<(), ManageError> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "{email:?} is not an email address."
        )))
    }
}

fn validate_username(username: &str) -> Result<(), ManageError> {
    let valid = (1..=128).contains(&username.len())
        && !username.contains('@')
        && !username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(ManageError::invalid(
            "A username has 1 to 128 characters, no '@', no spaces.",
        ))
    }
}
