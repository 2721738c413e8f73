//! What an issuance writes, atomically: the family (created, or replaced only if its version
//! is still the one read, so two nodes exchanging one token get one winner), the `/userinfo`
//! claims, and the user's metadata. A refused family write writes nothing.
//!
//! The common case, a rotation without metadata, is one statement (one round trip): the
//! conditional `UPDATE` and the claims in a data-modifying `WITH`, the claims written only if
//! the update matched. A concurrent rotation of the same family waits for the row lock and
//! then finds the version moved (PostgreSQL re-checks the condition on the newest row), so it
//! matches nothing. Everything else is a transaction.

use oidc_core::refresh::RefreshFamily;
use oidc_core::store::checked_change;
use oidc_core::{Change, FamilyWrite, StoreError, User, UserinfoWrite};

use crate::{PostgresStore, as_i64, decode, encode, failed, is_unique_violation};

pub(crate) fn apply(
    store: &PostgresStore,
    tenant: &str,
    change: &Change<'_>,
) -> Result<bool, StoreError> {
    // Every check before the first statement.
    checked_change(tenant, change)?;
    if let (
        Some(FamilyWrite::Replace {
            expected_version,
            family,
        }),
        None,
    ) = (change.family, change.metadata)
    {
        return rotate(store, tenant, expected_version, family, change.userinfo);
    }
    let mut connection = store.connection()?;
    let mut tx = connection.transaction().map_err(failed("issuance"))?;
    if let Some(write) = &change.family {
        let family = write.family();
        let record = encode(family)?;
        match write {
            FamilyWrite::Create(_) => {
                let created = tx.execute(
                    "INSERT INTO families \
                     (tenant, id, user_id, client_id, version, record, revoked) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &tenant,
                        &family.id,
                        &family.user_id,
                        &family.client_id,
                        &as_i64(family.version),
                        &record,
                        &family.revoked.is_some(),
                    ],
                );
                match created {
                    Ok(_) => {}
                    Err(error) if is_unique_violation(&error) => return Ok(false),
                    Err(error) => return Err(failed("families")(error)),
                }
            }
            FamilyWrite::Replace { .. } => {
                let stored = tx
                    .query_opt(
                        "SELECT record FROM families WHERE tenant = $1 AND id = $2 FOR UPDATE",
                        &[&tenant, &family.id],
                    )
                    .map_err(failed("families"))?
                    .map(|row| decode("families", row.get::<_, &[u8]>(0)))
                    .transpose()?;
                if !write.applies_to(stored.as_ref()) {
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE families SET version = $3, record = $4, revoked = $5 \
                     WHERE tenant = $1 AND id = $2",
                    &[
                        &tenant,
                        &family.id,
                        &as_i64(family.version),
                        &record,
                        &family.revoked.is_some(),
                    ],
                )
                .map_err(failed("families"))?;
            }
        }
    }
    if let Some(userinfo) = change.userinfo {
        tx.execute(
            "INSERT INTO userinfo (tenant, user_id, client_id, claims) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, user_id, client_id) DO UPDATE SET claims = EXCLUDED.claims \
             WHERE userinfo.claims <> EXCLUDED.claims",
            &[
                &tenant,
                &userinfo.user_id,
                &userinfo.client_id,
                &encode(userinfo.claims)?,
            ],
        )
        .map_err(failed("userinfo"))?;
    }
    if let Some((user_id, update)) = change.metadata {
        let stored = tx
            .query_opt(
                "SELECT record FROM users WHERE tenant = $1 AND user_id = $2 FOR UPDATE",
                &[&tenant, &user_id],
            )
            .map_err(failed("users"))?;
        // Skipped if the user no longer exists.
        if let Some(row) = stored {
            let mut user: User = decode("users", row.get::<_, &[u8]>(0))?;
            update.apply(&mut user);
            tx.execute(
                "UPDATE users SET record = $3 WHERE tenant = $1 AND user_id = $2",
                &[&tenant, &user_id, &encode(&user)?],
            )
            .map_err(failed("users"))?;
        }
    }
    tx.commit().map_err(failed("issuance"))?;
    Ok(true)
}

/// The contract of `FamilyWrite::applies_to` as a condition: the version read, and never
/// revoked back to live.
macro_rules! update_family {
    () => {
        "UPDATE families SET version = $3, record = $4, revoked = $5 \
         WHERE tenant = $1 AND id = $2 AND version = $6 AND (NOT revoked OR $5) RETURNING 1"
    };
}

const ROTATE: &str = concat!(
    "WITH updated AS (",
    update_family!(),
    ") SELECT count(*) FROM updated"
);

/// The claims are written only if the family was (`FROM updated`).
const ROTATE_WITH_CLAIMS: &str = concat!(
    "WITH updated AS (",
    update_family!(),
    "), claims AS (INSERT INTO userinfo (tenant, user_id, client_id, claims) \
     SELECT $1::text, $7::text, $8::text, $9::bytea FROM updated \
     ON CONFLICT (tenant, user_id, client_id) DO UPDATE SET claims = EXCLUDED.claims \
     WHERE userinfo.claims <> EXCLUDED.claims) \
     SELECT count(*) FROM updated"
);

/// A family replaced (and its `/userinfo` claims written) in one statement.
fn rotate(
    store: &PostgresStore,
    tenant: &str,
    expected_version: u64,
    family: &RefreshFamily,
    userinfo: Option<UserinfoWrite<'_>>,
) -> Result<bool, StoreError> {
    let record = encode(family)?;
    let (version, expected) = (as_i64(family.version), as_i64(expected_version));
    let revoked = family.revoked.is_some();
    let row = match userinfo {
        None => store.connection()?.query_one(
            ROTATE,
            &[&tenant, &family.id, &version, &record, &revoked, &expected],
        ),
        Some(userinfo) => store.connection()?.query_one(
            ROTATE_WITH_CLAIMS,
            &[
                &tenant,
                &family.id,
                &version,
                &record,
                &revoked,
                &expected,
                &userinfo.user_id,
                &userinfo.client_id,
                &encode(userinfo.claims)?,
            ],
        ),
    }
    .map_err(failed("issuance"))?;
    Ok(row.get::<_, i64>(0) == 1)
}
