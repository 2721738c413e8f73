//! The SSO session: a server-side record, addressed by its public id (`sid`), proven by a
//! secret that only the browser's cookie holds (`sid.secret`; the store keeps its hash).

use serde::{Deserialize, Serialize};

use super::records::{self, Stored};
use crate::grants::TokenContext;
use crate::model::UnixMillis;
use crate::secret::{self, Entropy, Secret, SecretHash};
use crate::store::{FlowKind, StoreError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "claimsmith_session";
/// A session ends after this long without a login using it (Auth0's default inactivity
/// timeout: 3 days)…
pub const IDLE_LIFETIME_MS: u64 = 3 * 86_400_000;
/// …and this long after the user entered credentials, whatever happens (30 days).
pub const ABSOLUTE_LIFETIME_MS: u64 = 30 * 86_400_000;

/// One SSO session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub secret: SecretHash,
    pub user_id: String,
    /// When the user last entered credentials: the ID tokens' `auth_time`.
    pub auth_time: UnixMillis,
    pub created_at: UnixMillis,
    pub absolute_expires_at: UnixMillis,
    pub last_used_at: UnixMillis,
    /// How the user authenticated: `pwd`, with its time.
    pub methods: Vec<(String, UnixMillis)>,
    /// The clients the session has logged in to.
    pub clients: Vec<String>,
}

impl Session {
    /// When the record lapses: idle or absolute, whichever comes first.
    fn expires_at(&self) -> UnixMillis {
        self.absolute_expires_at
            .min(self.last_used_at.saturating_add(IDLE_LIFETIME_MS))
    }

    pub fn methods(&self) -> Vec<rules_abi::AuthenticationMethod> {
        self.methods
            .iter()
            .map(|(name, at)| rules_abi::AuthenticationMethod {
                name: name.clone(),
                timestamp: *at,
            })
            .collect()
    }
}

/// A session found from a cookie: its id, the record and its version.
#[derive(Debug, Clone)]
pub struct Current {
    pub sid: String,
    pub(crate) stored: Stored<Session>,
}

impl Current {
    pub fn session(&self) -> &Session {
        &self.stored.body
    }
}

/// The session a cookie value proves, if it is live. A forged, stale or foreign cookie is
/// simply no session.
pub fn current(
    ctx: &TokenContext<'_>,
    cookie: Option<&str>,
) -> Result<Option<Current>, StoreError> {
    let Some((sid, secret)) = cookie.and_then(|value| value.split_once('.')) else {
        return Ok(None);
    };
    let stored =
        records::read::<Session>(ctx.store, &ctx.tenant.id, FlowKind::Session, sid, ctx.now)?;
    Ok(stored
        .filter(|stored| stored.body.secret.matches(&Secret::new(secret)))
        .map(|stored| Current {
            sid: sid.to_owned(),
            stored,
        }))
}

/// Starts a session for a password login, or renews `previous` if it is the same user's (the
/// `sid` stays, so tokens already issued keep naming it). Returns the cookie value.
pub fn start(
    ctx: &TokenContext<'_>,
    user_id: &str,
    previous: Option<&Current>,
    entropy: &mut dyn Entropy,
) -> Result<(Current, Secret), StoreError> {
    let secret = secret::new_token(entropy);
    let mut session = Session {
        secret: secret.hash(),
        user_id: user_id.to_owned(),
        auth_time: ctx.now,
        created_at: ctx.now,
        absolute_expires_at: ctx.now.saturating_add(ABSOLUTE_LIFETIME_MS),
        last_used_at: ctx.now,
        methods: vec![("pwd".to_owned(), ctx.now)],
        clients: Vec::new(),
    };
    let tenant = &ctx.tenant.id;
    if let Some(previous) = previous.filter(|p| p.session().user_id == user_id) {
        session.created_at = previous.session().created_at;
        session.clients = previous.session().clients.clone();
        let version = previous.stored.version;
        let at = (version, session.expires_at());
        if records::replace(
            ctx.store,
            tenant,
            FlowKind::Session,
            &previous.sid,
            at,
            &session,
        )? {
            let current = Current {
                sid: previous.sid.clone(),
                stored: Stored {
                    version: version + 1,
                    body: session,
                },
            };
            let value = cookie(&current.sid, &secret);
            return Ok((current, value));
        }
    }
    let sid = secret::new_id("sid", entropy);
    if !records::create(
        ctx.store,
        tenant,
        FlowKind::Session,
        &sid,
        session.expires_at(),
        &session,
    )? {
        return Err(StoreError::Conflict("a session id was drawn twice".into()));
    }
    let current = Current {
        sid,
        stored: Stored {
            version: 1,
            body: session,
        },
    };
    let value = cookie(&current.sid, &secret);
    Ok((current, value))
}

fn cookie(sid: &str, secret: &Secret) -> Secret {
    Secret::new(format!("{sid}.{}", secret.expose()))
}

/// Records a login through the session: the idle expiry slides and `client_id` joins its
/// clients. Best effort: a concurrent login through the same session may win the write, and
/// the session is then as that login left it.
pub fn touch(ctx: &TokenContext<'_>, current: &Current, client_id: &str) -> Result<(), StoreError> {
    let mut session = current.session().clone();
    session.last_used_at = ctx.now;
    if !session.clients.iter().any(|c| c == client_id) {
        session.clients.push(client_id.to_owned());
    }
    let at = (current.stored.version, session.expires_at());
    records::replace(
        ctx.store,
        &ctx.tenant.id,
        FlowKind::Session,
        &current.sid,
        at,
        &session,
    )?;
    Ok(())
}

/// Ends the session a cookie proves. `Ok(None)`: there was none.
pub fn end(ctx: &TokenContext<'_>, cookie: Option<&str>) -> Result<Option<Current>, StoreError> {
    let Some(current) = current(ctx, cookie)? else {
        return Ok(None);
    };
    // Deleted whatever its version: a login touching it meanwhile does not keep it alive.
    let store = ctx.store;
    let tenant = &ctx.tenant.id;
    let mut version = current.stored.version;
    while !records::consume(store, tenant, FlowKind::Session, &current.sid, version)? {
        match store.flow(tenant, FlowKind::Session, &current.sid)? {
            Some(record) => version = record.version,
            None => break,
        }
    }
    Ok(Some(current))
}
