//! The sled store passes the suite every engine must pass, on a real directory.

oidc_core::store_conformance!(crate::SledStore::temporary().unwrap());

/// A store opened on `data` in a new temporary directory, holding one tenant, flushed.
fn opened_with_a_tenant() -> (tempfile::TempDir, std::path::PathBuf, crate::SledStore) {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = crate::SledStore::open(&dir).unwrap();
    oidc_core::Store::put_tenant(&store, &oidc_core::testkit::fixtures::tenant("acme")).unwrap();
    store.flush().unwrap();
    (parent, dir, store)
}

#[test]
fn the_data_directory_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_parent, dir, store) = opened_with_a_tenant();
    drop(store);
    let store = crate::SledStore::open(&dir).unwrap();
    drop(store);
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut files = 0;
    for entry in walk(&dir) {
        let expected = if entry.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&entry), expected, "{}", entry.display());
        files += 1;
    }
    assert!(files > 0);
}

#[test]
fn a_flush_syncs_the_file_sled_writes_its_log_to() {
    use std::os::unix::fs::MetadataExt;
    let (_parent, dir, store) = opened_with_a_tenant();
    // The file the store syncs is the one sled wrote the tenant to.
    let synced = store.file.as_ref().expect("an opened store syncs its file");
    let (synced, written) = (
        synced.metadata().unwrap(),
        std::fs::metadata(dir.join("db")).unwrap(),
    );
    assert_eq!((synced.dev(), synced.ino()), (written.dev(), written.ino()));
    assert!(written.len() > 0);
    assert!(crate::SledStore::temporary().unwrap().file.is_none());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn an_old_schema_is_refused_with_a_reason() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    {
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &1u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let error = crate::SledStore::open(&dir).unwrap_err().to_string();
    assert!(error.contains("schema version 1"), "{error}");
    assert!(error.contains("start on a new directory"), "{error}");
}

#[test]
fn a_version_2_store_is_migrated_with_its_rules_and_configuration() {
    use oidc_core::Store;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    {
        // The version 2 layout, as that build wrote it.
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &2u32.to_be_bytes())
            .unwrap();
        let tenant = serde_json::json!({
            "id": "acme", "issuer": "https://acme.test/", "hosts": [], "signing_alg": "ES256",
            "rules_configuration": {"API_KEY": "s3cret"}
        });
        db.open_tree("tenants")
            .unwrap()
            .insert("acme", serde_json::to_vec(&tenant).unwrap())
            .unwrap();
        let rules = db.open_tree("rules").unwrap();
        for (name, order, hash) in [("second", 2, "bbb"), ("first", 1, "aaa")] {
            let record = serde_json::json!({
                "name": name, "order": order, "enabled": true, "module_hash": hash
            });
            rules
                .insert(
                    format!("acme\0{name}"),
                    serde_json::to_vec(&record).unwrap(),
                )
                .unwrap();
        }
        let modules = db.open_tree("modules").unwrap();
        modules.insert("acme\0aaa", &b"module a"[..]).unwrap();
        modules.insert("acme\0bbb", &b"module bb"[..]).unwrap();
        db.flush().unwrap();
    }
    let ids = {
        let store = crate::SledStore::open(&dir).unwrap();
        let set = store.rule_set("acme").unwrap();
        assert_eq!(set.version, 1);
        let names: Vec<_> = set
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.order))
            .collect();
        assert_eq!(names, [("first", 1), ("second", 2)]);
        assert_eq!(set.rules[1].module_size, 9);
        assert!(set.rules.iter().all(|r| r.id.starts_with("rul_")));
        assert_eq!(set.configuration["API_KEY"], "s3cret");
        assert_eq!(store.module("acme", "bbb").unwrap().unwrap(), b"module bb");
        let tenant = store.tenant("acme").unwrap().unwrap();
        assert_eq!(tenant.issuer, "https://acme.test/");
        let raw = store.tenants.get("acme").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("s3cret"));
        set.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    // Opening again changes nothing: the store is at the current version.
    let store = crate::SledStore::open(&dir).unwrap();
    let again: Vec<_> = store
        .rule_set("acme")
        .unwrap()
        .rules
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(again, ids);
}
