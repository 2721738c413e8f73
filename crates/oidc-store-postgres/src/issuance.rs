//! What an issuance writes, in one transaction: the family (created, or replaced after a
//! version check under a row lock, so two nodes exchanging one token get one winner), the
//! `/userinfo` claims, and the user's metadata. A refused family write rolls it all back.

use oidc_core::store::checked_change;
use oidc_core::{Change, FamilyWrite, StoreError, User};

use crate::{PostgresStore, as_i64, decode, encode, failed, is_unique_violation};

pub(crate) fn apply(
    store: &PostgresStore,
    tenant: &str,
    change: &Change<'_>,
) -> Result<bool, StoreError> {
    // Every check before the first statement.
    checked_change(tenant, change)?;
    let mut connection = store.connection()?;
    let mut tx = connection.transaction().map_err(failed("issuance"))?;
    if let Some(write) = &change.family {
        let family = write.family();
        let record = encode(family)?;
        match write {
            FamilyWrite::Create(_) => {
                let created = tx.execute(
                    "INSERT INTO families (tenant, id, user_id, client_id, version, record) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &tenant,
                        &family.id,
                        &family.user_id,
                        &family.client_id,
                        &as_i64(family.version),
                        &record,
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
                    "UPDATE families SET version = $3, record = $4 WHERE tenant = $1 AND id = $2",
                    &[&tenant, &family.id, &as_i64(family.version), &record],
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
