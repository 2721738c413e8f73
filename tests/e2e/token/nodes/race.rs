//! One refresh token exchanged 100 times at once, spread over three nodes: the family's
//! compare-and-swap in the database decides, exactly as on one node.

use std::collections::BTreeSet;

use super::*;

const RACERS: usize = 100;

/// Exchanges `issued`'s refresh token `RACERS` times concurrently, round-robin over `nodes`.
async fn race(
    http: &reqwest::Client,
    nodes: &[Process],
    client: (&'static str, &'static str),
    issued: &Value,
) -> Vec<(u16, Value)> {
    let params = refresh_grant(issued);
    let mut racers = tokio::task::JoinSet::new();
    for n in 0..RACERS {
        let (http, node, params) = (
            http.clone(),
            nodes[n % nodes.len()].addr.clone(),
            params.clone(),
        );
        racers.spawn(async move { token(&http, &node, client, &params).await });
    }
    racers.join_all().await
}

#[tokio::test]
async fn a_hundred_parallel_exchanges_over_three_nodes_have_one_outcome() {
    let fleet = start("race", 3, &[]).await;
    let nodes = &fleet.nodes;
    let http = claimsmith_tests::http();
    // Each node compiles the tenant's rule modules at their first use. Done here, one node at
    // a time: compiled during the race, on two cores, the other nodes' rule calls could be
    // starved past their 50 ms wall-clock limit, which is not what this test is about.
    for node in nodes {
        let (status, body) = token(&http, &node.addr, WEB_CLIENT, &password_grant()).await;
        assert_eq!(status, 200, "{body}");
    }

    // Inside the overlap window (`web`: 10 s): every racer gets the one successor.
    let (status, issued) = token(&http, &nodes[0].addr, WEB_CLIENT, &password_grant()).await;
    assert_eq!(status, 200, "{issued}");
    let answers = race(&http, nodes, WEB_CLIENT, &issued).await;
    let successors: BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["refresh_token"]
                .as_str()
                .expect("a successor")
                .to_owned()
        })
        .collect();
    assert_eq!(successors.len(), 1, "{successors:?}");
    // And the successor works at every node (the third exchange of the chain).
    let successor = &answers[0].1;
    let (status, next) = token(&http, &nodes[2].addr, WEB_CLIENT, &refresh_grant(successor)).await;
    assert_eq!(status, 200, "{next}");

    // Without an overlap (`strict`): exactly one racer wins; every other is refused, and
    // (the losers being reuse) the family is dead everywhere, the winner's successor too.
    let (status, issued) = token(&http, &nodes[1].addr, STRICT, &password_grant()).await;
    assert_eq!(status, 200, "{issued}");
    let answers = race(&http, nodes, STRICT, &issued).await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (403, Some("invalid_grant")),
            "{body}"
        );
    }
    for node in nodes {
        let (status, body) = token(&http, &node.addr, STRICT, &refresh_grant(winners[0])).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
    }
}
