//! A node killed with SIGKILL in the middle of a load run: every token it returned before it
//! died works at the node that is left, since a response carrying a token waits for the
//! database's commit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::*;

const CHAINS: usize = 16;
/// Exchanges, over all chains, before the kill.
const BEFORE_KILL: usize = 150;

#[tokio::test]
async fn tokens_returned_by_a_node_killed_under_load_work_at_the_other() {
    let mut fleet = start("crash", 2, &[]).await;
    let http = claimsmith_tests::http();
    let (a, b) = (fleet.nodes[0].addr.clone(), fleet.nodes[1].addr.clone());

    // Each chain: a login, then rotations at A until A is gone, remembering the last answer.
    let mut logins = Vec::new();
    for _ in 0..CHAINS {
        let (status, issued) = token(&http, &a, WEB_CLIENT, &password_grant()).await;
        assert_eq!(status, 200, "{issued}");
        logins.push(Some(issued));
    }
    let last: Arc<Mutex<Vec<Option<Value>>>> = Arc::new(Mutex::new(logins));
    let exchanged = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut chains = tokio::task::JoinSet::new();
    for chain in 0..CHAINS {
        let (http, a) = (http.clone(), a.clone());
        let (last, exchanged, enough) = (last.clone(), exchanged.clone(), enough.clone());
        chains.spawn(async move {
            let mut current = last.lock().unwrap()[chain].clone().expect("logged in");
            loop {
                let sent = http
                    .post(format!("{a}/t/acme/oauth/token"))
                    .basic_auth(WEB_CLIENT.0, Some(WEB_CLIENT.1))
                    .form(&refresh_grant(&current))
                    .send()
                    .await;
                // A is gone: the connection fails, or the answer is cut short.
                let Ok(response) = sent else { return };
                let status = response.status().as_u16();
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                assert_eq!(status, 200, "{body}");
                current = body;
                last.lock().unwrap()[chain] = Some(current.clone());
                if exchanged.fetch_add(1, Ordering::SeqCst) + 1 == BEFORE_KILL {
                    enough.notify_one();
                }
            }
        });
    }
    enough.notified().await;
    fleet.nodes.remove(0).kill();
    while let Some(joined) = chains.join_next().await {
        joined.expect("a chain fails only by losing A");
    }
    assert!(exchanged.load(Ordering::SeqCst) >= BEFORE_KILL);

    // The last answer of every chain: its access token at B's userinfo, its refresh token
    // exchanged at B (if A committed one more rotation whose answer was lost, this is the
    // retry the overlap window exists for, and B answers with that successor).
    let answers = last.lock().unwrap().clone();
    for (chain, answer) in answers.into_iter().enumerate() {
        let answer = answer.expect("every chain logged in");
        assert_eq!(userinfo_status(&http, &b, &answer).await, 200);
        let (status, next) = token(&http, &b, WEB_CLIENT, &refresh_grant(&answer)).await;
        assert_eq!(status, 200, "chain {chain}: {next}");
    }
}
