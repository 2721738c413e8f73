//! Which store a process serves from: `--store sled:DIR` (the default; `--data DIR` keeps
//! working) or `--store postgres://…`, also from `CLAIMSMITH_STORE`. This and `rekey` are
//! the only places that name an engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use oidc_core::Store;
use oidc_store::SledStore;
use oidc_store_postgres::{PoolSettings, PostgresStore};

/// The environment variable that may name the store instead of `--store`.
pub const STORE_ENV: &str = "CLAIMSMITH_STORE";

/// A store, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreSpec {
    /// The embedded store in a directory.
    Sled(PathBuf),
    /// A PostgreSQL database, by connection URL.
    Postgres(String),
}

impl StoreSpec {
    /// `--store` if given, else the `--data` directory.
    pub(crate) fn parse(store: Option<&str>, data: &Path) -> anyhow::Result<StoreSpec> {
        let Some(store) = store.filter(|s| !s.is_empty()) else {
            return Ok(StoreSpec::Sled(data.to_owned()));
        };
        if let Some(dir) = store.strip_prefix("sled:") {
            if dir.is_empty() {
                bail!("--store sled: needs a directory, as in sled:/var/lib/claimsmith");
            }
            return Ok(StoreSpec::Sled(PathBuf::from(dir)));
        }
        if store.starts_with("postgres://") || store.starts_with("postgresql://") {
            return Ok(StoreSpec::Postgres(store.to_owned()));
        }
        bail!("--store must be sled:DIR or postgres://USER@HOST/DATABASE, not {store:?}")
    }

    /// Opens the store (creating a sled directory, migrating a database).
    pub(crate) fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            StoreSpec::Sled(dir) => {
                // Every file the process creates is private to its owner: the store's included.
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
                let store = SledStore::open(dir).with_context(|| format!("opening {self}"))?;
                Ok(Arc::new(store))
            }
            StoreSpec::Postgres(url) => {
                let store = PostgresStore::open(url, PoolSettings::default())
                    .with_context(|| format!("opening {self}"))?;
                Ok(Arc::new(store))
            }
        }
    }
}

impl std::fmt::Display for StoreSpec {
    /// The store for messages: a database URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::Sled(dir) => write!(f, "{}", dir.display()),
            StoreSpec::Postgres(url) => {
                let shown = match (url.split_once("://"), url.rfind('@')) {
                    (Some((scheme, rest)), Some(_)) => {
                        let (credentials, host) = rest.rsplit_once('@').unwrap_or(("", rest));
                        let user = credentials.split(':').next().unwrap_or_default();
                        format!("{scheme}://{user}@{host}")
                    }
                    _ => url.clone(),
                };
                f.write_str(&shown)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_named_by_kind_and_passwords_stay_out_of_messages() {
        let data = Path::new("claimsmith-data");
        assert_eq!(
            StoreSpec::parse(None, data).unwrap(),
            StoreSpec::Sled(data.into())
        );
        assert_eq!(
            StoreSpec::parse(Some("sled:/srv/cs"), data).unwrap(),
            StoreSpec::Sled("/srv/cs".into())
        );
        let pg = StoreSpec::parse(Some("postgres://app:s3cret@db:5432/claimsmith"), data).unwrap();
        assert_eq!(pg.to_string(), "postgres://app@db:5432/claimsmith");
        assert!(StoreSpec::parse(Some("mysql://x"), data).is_err());
        assert!(StoreSpec::parse(Some("sled:"), data).is_err());
    }
}
