//! The sled store passes the suite every engine must pass, on a real directory.

oidc_core::store_conformance!(crate::SledStore::temporary().unwrap());

#[test]
fn the_data_directory_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = crate::SledStore::open(&dir).unwrap();
    oidc_core::Store::put_tenant(&store, &oidc_core::testkit::fixtures::tenant("acme")).unwrap();
    store.flush().unwrap();
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
