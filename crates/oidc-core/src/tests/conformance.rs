//! The in-memory store passes the suite every engine must pass.

crate::store_conformance!(crate::testkit::MemoryStore::new());
