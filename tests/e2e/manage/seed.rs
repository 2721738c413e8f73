//! A seed owns the tenants it declares: applied again, it deletes the clients, APIs, users and
//! rules it no longer declares, and keeps the tenant's management API.

use claimsmith_tests::server::{SEED, TestServer};

use super::{Api, MANAGER};
use crate::token::{LEGACY, OFFLINE, WEB, login};

/// Cuts the `[[tenant.KIND]]` block that holds `marker` out of the seed.
fn without(seed: &str, kind: &str, marker: &str) -> String {
    let header = format!("[[tenant.{kind}]]\n");
    let start = seed
        .match_indices(&header)
        .map(|(at, _)| at)
        .filter(|at| *at < seed.find(marker).expect("marker in seed"))
        .last()
        .expect("block");
    let end = seed[start + header.len()..]
        .find("[[")
        .map_or(seed.len(), |at| start + header.len() + at);
    format!("{}{}", &seed[..start], &seed[end..])
}

#[tokio::test]
async fn a_seed_applied_again_deletes_what_it_no_longer_declares() {
    let server = TestServer::start().await;
    let dave = [
        ("username", "dave@acme.test"),
        ("password", "dave's long password"),
    ];
    let mut dave_login = vec![("grant_type", "password")];
    dave_login.extend_from_slice(&WEB);
    dave_login.extend_from_slice(&dave);
    assert_eq!(server.token("acme", &dave_login).await.status, 200);
    assert_eq!(login(&server, &LEGACY, OFFLINE).await.status, 200);

    let seed = without(SEED, "client", "client_id = \"legacy\"");
    let seed = without(&seed, "user", "user_id = \"auth0|dave\"");
    let seed = without(
        &seed,
        "api",
        "identifier = \"https://online-only.acme.test/\"",
    );
    let server = server.restart_with_seed(&seed).await;

    assert_eq!(
        login(&server, &LEGACY, OFFLINE).await.error().1,
        "invalid_client"
    );
    assert_eq!(
        server.token("acme", &dave_login).await.error().1,
        "invalid_grant"
    );
    let mut online = vec![
        ("grant_type", "password"),
        ("audience", "https://online-only.acme.test/"),
        ("username", "alice@acme.test"),
        ("password", "correct horse battery staple"),
    ];
    online.extend_from_slice(&WEB);
    assert_eq!(
        server.token("acme", &online).await.error().1,
        "access_denied"
    );
    // What it still declares works, and so does the tenant's management API.
    assert_eq!(login(&server, &WEB, OFFLINE).await.status, 200);
    let api = Api::new(&server, &MANAGER).await;
    assert_eq!(api.get("clients").await.status, 200);
}
