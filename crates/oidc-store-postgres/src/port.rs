//! The [`Store`] port, statement by statement.

use super::*;

impl Store for PostgresStore {
    fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        self.one(
            "tenants",
            "SELECT record FROM tenants WHERE id = $1",
            &[&id],
        )
    }

    fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.all("tenants", "SELECT record FROM tenants ORDER BY id", &[])
    }

    fn tenant_for_host(&self, host: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT tenant FROM hosts WHERE host = $1",
                &[&host.to_ascii_lowercase()],
            )
            .map_err(failed("hosts"))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        oidc_core::ids::validate_tenant(&tenant.id).map_err(|reason| StoreError::InvalidId {
            id: tenant.id.clone(),
            reason,
        })?;
        let id = tenant.id.as_str();
        let hosts: Vec<String> = tenant
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let record = encode(tenant)?;
        let mut connection = self.connection()?;
        let mut tx = connection.transaction().map_err(failed("put tenant"))?;
        for host in &hosts {
            let claimed = tx
                .execute(
                    "INSERT INTO hosts (host, tenant) VALUES ($1, $2) \
                     ON CONFLICT (host) DO UPDATE SET tenant = EXCLUDED.tenant \
                     WHERE hosts.tenant = EXCLUDED.tenant",
                    &[host, &id],
                )
                .map_err(failed("hosts"))?;
            if claimed == 0 {
                return Err(StoreError::Conflict(format!(
                    "host {host} belongs to another tenant"
                )));
            }
        }
        tx.execute(
            "DELETE FROM hosts WHERE tenant = $1 AND NOT (host = ANY($2))",
            &[&id, &hosts],
        )
        .map_err(failed("hosts"))?;
        tx.execute(
            "INSERT INTO tenants (id, record) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &[&id, &record],
        )
        .map_err(failed("tenants"))?;
        tx.commit().map_err(failed("put tenant"))
    }

    fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let mut tx = connection.transaction().map_err(failed("delete tenant"))?;
        // The tenant record first: from then on nothing serves it.
        tx.execute("DELETE FROM tenants WHERE id = $1", &[&id])
            .map_err(failed("delete tenant"))?;
        for table in [
            "hosts",
            "keys",
            "clients",
            "apis",
            "users",
            "logins",
            "rule_sets",
            "modules",
            "families",
            "userinfo",
            "logs",
            "flows",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE tenant = $1"), &[&id])
                .map_err(failed("delete tenant"))?;
        }
        tx.commit().map_err(failed("delete tenant"))
    }

    fn keys(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        self.all(
            "keys",
            "SELECT record FROM keys WHERE tenant = $1 ORDER BY kid",
            &[&tenant],
        )
    }

    fn put_key(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError> {
        self.upsert("keys", "kid", tenant, &key.kid, &encode(key)?)
    }

    fn delete_key(&self, tenant: &str, kid: &str) -> Result<bool, StoreError> {
        self.remove("keys", "kid", tenant, kid)
    }

    fn client(&self, tenant: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.one(
            "clients",
            "SELECT record FROM clients WHERE tenant = $1 AND client_id = $2",
            &[&tenant, &client_id],
        )
    }

    fn put_client(&self, tenant: &str, client: &Client) -> Result<(), StoreError> {
        self.upsert(
            "clients",
            "client_id",
            tenant,
            &client.client_id,
            &encode(client)?,
        )
    }

    fn api(&self, tenant: &str, identifier: &str) -> Result<Option<Api>, StoreError> {
        self.one(
            "apis",
            "SELECT record FROM apis WHERE tenant = $1 AND identifier = $2",
            &[&tenant, &identifier],
        )
    }

    fn put_api(&self, tenant: &str, api: &Api) -> Result<(), StoreError> {
        self.upsert("apis", "identifier", tenant, &api.identifier, &encode(api)?)
    }

    fn clients(&self, tenant: &str) -> Result<Vec<Client>, StoreError> {
        self.all(
            "clients",
            "SELECT record FROM clients WHERE tenant = $1 ORDER BY client_id",
            &[&tenant],
        )
    }

    fn delete_client(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
        self.remove("clients", "client_id", tenant, client_id)
    }

    fn apis(&self, tenant: &str) -> Result<Vec<Api>, StoreError> {
        self.all(
            "apis",
            "SELECT record FROM apis WHERE tenant = $1 ORDER BY identifier",
            &[&tenant],
        )
    }

    fn delete_api(&self, tenant: &str, identifier: &str) -> Result<bool, StoreError> {
        self.remove("apis", "identifier", tenant, identifier)
    }

    fn user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        self.one(
            "users",
            "SELECT record FROM users WHERE tenant = $1 AND user_id = $2",
            &[&tenant, &user_id],
        )
    }

    fn user_by_login(&self, tenant: &str, login: &str) -> Result<Option<User>, StoreError> {
        self.one(
            "users",
            "SELECT u.record FROM logins l JOIN users u \
             ON u.tenant = l.tenant AND u.user_id = l.user_id \
             WHERE l.tenant = $1 AND l.login = $2",
            &[&tenant, &login.to_lowercase()],
        )
    }

    fn put_user(&self, tenant: &str, user: &User) -> Result<(), StoreError> {
        checked_id(tenant)?;
        let user_id = checked_id(&user.user_id)?;
        let logins: Vec<String> = user
            .email
            .iter()
            .chain(user.username.iter())
            .map(|login| checked_id(login).map(str::to_lowercase))
            .collect::<Result<_, _>>()?;
        let record = encode(user)?;
        let mut connection = self.connection()?;
        let mut tx = connection.transaction().map_err(failed("put user"))?;
        for login in &logins {
            let claimed = tx
                .execute(
                    "INSERT INTO logins (tenant, login, user_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant, login) DO UPDATE SET user_id = EXCLUDED.user_id \
                     WHERE logins.user_id = EXCLUDED.user_id",
                    &[&tenant, login, &user_id],
                )
                .map_err(failed("logins"))?;
            if claimed == 0 {
                return Err(StoreError::Conflict(
                    "a login of this user belongs to another user".into(),
                ));
            }
        }
        tx.execute(
            "DELETE FROM logins WHERE tenant = $1 AND user_id = $2 AND NOT (login = ANY($3))",
            &[&tenant, &user_id, &logins],
        )
        .map_err(failed("logins"))?;
        tx.execute(
            "INSERT INTO users (tenant, user_id, record) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, user_id) DO UPDATE SET record = EXCLUDED.record",
            &[&tenant, &user_id, &record],
        )
        .map_err(failed("users"))?;
        tx.commit().map_err(failed("put user"))
    }

    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.all(
            "users",
            "SELECT record FROM users WHERE tenant = $1 AND ($2::text IS NULL OR user_id > $2) \
             ORDER BY user_id LIMIT $3",
            &[&tenant, &after, &super::limit(limit)],
        )
    }

    fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        let mut tx = connection.transaction().map_err(failed("delete user"))?;
        let deleted = tx
            .execute(
                "DELETE FROM users WHERE tenant = $1 AND user_id = $2",
                &[&tenant, &user_id],
            )
            .map_err(failed("delete user"))?;
        if deleted == 0 {
            return Ok(false);
        }
        for table in ["logins", "userinfo"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = $1 AND user_id = $2"),
                &[&tenant, &user_id],
            )
            .map_err(failed("delete user"))?;
        }
        tx.commit().map_err(failed("delete user"))?;
        Ok(true)
    }

    fn rule_set(&self, tenant: &str) -> Result<RuleSet, StoreError> {
        Ok(self
            .one(
                "rule sets",
                "SELECT record FROM rule_sets WHERE tenant = $1",
                &[&tenant],
            )?
            .unwrap_or_default())
    }

    fn put_rule_set(
        &self,
        tenant: &str,
        expected_version: u64,
        set: &RuleSet,
        modules: &[(&str, &[u8])],
    ) -> Result<bool, StoreError> {
        checked_rule_set(tenant, set, modules)?;
        let record = encode(set)?;
        let named: Vec<String> = set.module_hashes().map(str::to_owned).collect();
        let mut connection = self.connection()?;
        let mut tx = connection.transaction().map_err(failed("put rule set"))?;
        let current: RuleSet = match tx
            .query_opt(
                "SELECT record FROM rule_sets WHERE tenant = $1 FOR UPDATE",
                &[&tenant],
            )
            .map_err(failed("rule sets"))?
        {
            Some(row) => decode("rule sets", row.get::<_, &[u8]>(0))?,
            None => RuleSet::default(),
        };
        if current.version != expected_version {
            return Ok(false);
        }
        // The set first: two first writers race to create the row, and only one may win.
        let written = if expected_version == 0 {
            tx.execute(
                "INSERT INTO rule_sets (tenant, record) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&tenant, &record],
            )
        } else {
            tx.execute(
                "UPDATE rule_sets SET record = $2 WHERE tenant = $1",
                &[&tenant, &record],
            )
        }
        .map_err(failed("rule sets"))?;
        if written != 1 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM modules WHERE tenant = $1 AND NOT (hash = ANY($2))",
            &[&tenant, &named],
        )
        .map_err(failed("modules"))?;
        for (hash, module) in modules.iter().filter(|(h, _)| named.iter().any(|n| n == h)) {
            tx.execute(
                "INSERT INTO modules (tenant, hash, bytes) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant, hash) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[&tenant, hash, module],
            )
            .map_err(failed("modules"))?;
        }
        tx.commit().map_err(failed("put rule set"))?;
        Ok(true)
    }

    fn module(&self, tenant: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT bytes FROM modules WHERE tenant = $1 AND hash = $2",
                &[&tenant, &hash],
            )
            .map_err(failed("modules"))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn refresh_family(
        &self,
        tenant: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        self.one(
            "families",
            "SELECT record FROM families WHERE tenant = $1 AND id = $2",
            &[&tenant, &family_id],
        )
    }

    fn refresh_families(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        self.all(
            "families",
            "SELECT record FROM families WHERE tenant = $1 AND user_id = $2 \
             AND ($3::text IS NULL OR client_id = $3) ORDER BY client_id, id",
            &[&tenant, &user_id, &client_id],
        )
    }

    fn refresh_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        self.all(
            "families",
            "SELECT record FROM families WHERE tenant = $1 AND ($2::text IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
            &[&tenant, &after, &super::limit(limit)],
        )
    }

    fn refresh_delete(
        &self,
        tenant: &str,
        family_id: &str,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        Ok(self.execute(
            "families",
            "DELETE FROM families WHERE tenant = $1 AND id = $2 AND version = $3",
            &[&tenant, &family_id, &as_i64(expected_version)],
        )? > 0)
    }

    fn apply(&self, tenant: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        crate::issuance::apply(self, tenant, change)
    }

    fn userinfo_claims(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
    ) -> Result<rules_abi::Claims, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT claims FROM userinfo WHERE tenant = $1 AND user_id = $2 AND client_id = $3",
                &[&tenant, &user_id, &client_id],
            )
            .map_err(failed("userinfo"))?;
        row.map(|row| decode("userinfo", row.get::<_, &[u8]>(0)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    fn append_logs(&self, tenant: &str, events: &[LogEvent]) -> Result<(), StoreError> {
        checked_id(tenant)?;
        let mut ids = Vec::with_capacity(events.len());
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            ids.push(checked_id(&event.id)?);
            records.push(encode(event)?);
        }
        // Every event in one statement: one round trip, one commit.
        self.execute(
            "logs",
            "INSERT INTO logs (tenant, id, record) \
             SELECT $1, event.id, event.record FROM unnest($2::text[], $3::bytea[]) \
             AS event (id, record) \
             ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record",
            &[&tenant, &ids, &records],
        )
        .map(drop)
    }

    fn logs(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<LogEvent>, StoreError> {
        let sql = if newest_first {
            "SELECT record FROM logs WHERE tenant = $1 AND ($2::text IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        } else {
            "SELECT record FROM logs WHERE tenant = $1 AND ($2::text IS NULL OR id > $2) \
             ORDER BY id LIMIT $3"
        };
        self.all("logs", sql, &[&tenant, &after, &super::limit(limit)])
    }

    fn log(&self, tenant: &str, id: &str) -> Result<Option<LogEvent>, StoreError> {
        self.one(
            "logs",
            "SELECT record FROM logs WHERE tenant = $1 AND id = $2",
            &[&tenant, &id],
        )
    }

    fn trim_logs(&self, tenant: &str, keep: usize, before: &str) -> Result<usize, StoreError> {
        let deleted = self.execute(
            "logs",
            "DELETE FROM logs WHERE tenant = $1 AND (id < $2 OR id NOT IN \
             (SELECT id FROM logs WHERE tenant = $1 ORDER BY id DESC LIMIT $3))",
            &[&tenant, &before, &super::limit(keep)],
        )?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    fn flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
    ) -> Result<Option<FlowRecord>, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT version, expires_at, body FROM flows \
                 WHERE tenant = $1 AND kind = $2 AND id = $3",
                &[&tenant, &kind.as_str(), &id],
            )
            .map_err(failed("flows"))?;
        Ok(row.map(|row| FlowRecord {
            version: as_u64(row.get(0)),
            expires_at: as_u64(row.get(1)),
            body: row.get(2),
        }))
    }

    fn write_flow(
        &self,
        tenant: &str,
        kind: FlowKind,
        id: &str,
        write: FlowWrite<'_>,
    ) -> Result<bool, StoreError> {
        let (tenant, id, kind) = (checked_id(tenant)?, checked_id(id)?, kind.as_str());
        let mut connection = self.connection()?;
        let written = match write {
            FlowWrite::Create(record) => connection.execute(
                "INSERT INTO flows (tenant, kind, id, version, expires_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &tenant,
                    &kind,
                    &id,
                    &as_i64(record.version),
                    &as_i64(record.expires_at),
                    &record.body,
                ],
            ),
            FlowWrite::Replace {
                expected_version,
                record,
            } => connection.execute(
                "UPDATE flows SET version = $4, expires_at = $5, body = $6 \
                 WHERE tenant = $1 AND kind = $2 AND id = $3 AND version = $7",
                &[
                    &tenant,
                    &kind,
                    &id,
                    &as_i64(record.version),
                    &as_i64(record.expires_at),
                    &record.body,
                    &as_i64(expected_version),
                ],
            ),
            FlowWrite::Delete { expected_version } => connection.execute(
                "DELETE FROM flows WHERE tenant = $1 AND kind = $2 AND id = $3 AND version = $4",
                &[&tenant, &kind, &id, &as_i64(expected_version)],
            ),
        };
        Ok(written.map_err(failed("flows"))? == 1)
    }

    fn flow_page(
        &self,
        tenant: &str,
        kind: FlowKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, FlowRecord)>, StoreError> {
        let rows = self
            .connection()?
            .query(
                "SELECT id, version, expires_at, body FROM flows \
                 WHERE tenant = $1 AND kind = $2 AND ($3::text IS NULL OR id > $3) \
                 ORDER BY id LIMIT $4",
                &[&tenant, &kind.as_str(), &after, &super::limit(limit)],
            )
            .map_err(failed("flows"))?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    FlowRecord {
                        version: as_u64(row.get(1)),
                        expires_at: as_u64(row.get(2)),
                        body: row.get(3),
                    },
                )
            })
            .collect())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .connection()?
            .query_opt("SELECT value FROM meta WHERE name = $1", &[&name])
            .map_err(failed("meta"))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn meta_swap(
        &self,
        name: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        // The change and its announcement are one statement: it is announced if it commits.
        let rows = match expected {
            None => self.rows(
                "meta",
                "WITH changed AS (INSERT INTO meta (name, value) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING RETURNING name) \
                 SELECT pg_notify($3, name) FROM changed",
                &[&name, &value, &self.channel],
            )?,
            Some(expected) => self.rows(
                "meta",
                "WITH changed AS (UPDATE meta SET value = $2 WHERE name = $1 AND value = $4 \
                 RETURNING name) \
                 SELECT pg_notify($3, name) FROM changed",
                &[&name, &value, &self.channel, &expected],
            )?,
        };
        Ok(rows == 1)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every write above committed a transaction, durable with synchronous_commit on.
        Ok(())
    }

    fn durable_on_write(&self) -> bool {
        true
    }

    fn listen_meta(&self) -> Result<Option<Box<dyn MetaListener>>, StoreError> {
        let listener = crate::listen::Listener::open(&self.target, &self.channel)?;
        Ok(Some(Box::new(listener)))
    }

    fn pool(&self) -> Option<PoolUse> {
        let state = self.pool.state();
        Some(PoolUse {
            open: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
            round_trips: self.round_trips.load(std::sync::atomic::Ordering::Relaxed),
        })
    }
}
