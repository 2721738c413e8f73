//! Meta changes announced to every node: a changed meta record (the tenants' epochs, say)
//! is announced with `NOTIFY` in the statement that changes it, so the announcement leaves
//! only if the change commits, and each node listens on a connection of its own.

use std::time::Duration;

use oidc_core::{MetaListener, StoreError};
use postgres::fallible_iterator::FallibleIterator as _;

use crate::tls::Target;

/// The channel of the deployment in `schema`. A channel name is at most 63 bytes
/// (PostgreSQL's `NAMEDATALEN - 1`); two schemas whose names differ only beyond that share a
/// channel, which costs a spurious wake-up, nothing more.
pub(crate) fn channel_for(schema: &str) -> String {
    let mut channel = format!("claimsmith_changes_{schema}");
    let mut end = channel.len().min(63);
    while !channel.is_char_boundary(end) {
        end -= 1;
    }
    channel.truncate(end);
    channel
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
#[error("the database closed the connection")]
struct Closed;

/// A connection that has run `LISTEN` on the store's channel.
pub(crate) struct Listener {
    client: postgres::Client,
}

impl Listener {
    pub(crate) fn open(target: &Target, channel: &str) -> Result<Listener, StoreError> {
        // Named, so an operator can tell it in `pg_stat_activity`.
        let mut config = target.config.clone();
        config.application_name("claimsmith-listener");
        let mut client = config
            .connect(target.tls.clone())
            .map_err(|e| StoreError::backend("change listener", e))?;
        // Quoted, so the name is the channel's exactly (NOTIFY names it as a string).
        let quoted = channel.replace('"', "\"\"");
        client
            .batch_execute(&format!("LISTEN \"{quoted}\""))
            .map_err(|e| StoreError::backend("change listener", e))?;
        Ok(Listener { client })
    }
}

impl MetaListener for Listener {
    fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError> {
        let first = self.client.notifications().timeout_iter(timeout).next();
        match first {
            Ok(Some(_)) => {
                // One wake-up for a burst: whatever else arrived is covered by the same read.
                let mut notifications = self.client.notifications();
                while let Ok(Some(_)) = notifications.iter().next() {}
                Ok(true)
            }
            Err(error) => Err(StoreError::backend("change listener", error)),
            Ok(None) if self.client.is_closed() => {
                Err(StoreError::backend("change listener", Closed))
            }
            Ok(None) => Ok(false),
        }
    }
}
