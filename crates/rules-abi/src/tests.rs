use expect_test::{Expect, expect};
use serde_json::json;

use super::*;

fn sample_input() -> RuleInput {
    let mut input = RuleInput {
        now: 1_764_236_400_000,
        seed: 42,
        ..RuleInput::default()
    };
    input
        .configuration
        .insert("ALLOWED_CIDRS".into(), "10.0.0.0/8".into());
    input.user.user_id = "auth0|alice".into();
    input.user.email = Some("alice@example.com".into());
    input.user.email_verified = true;
    input.user.logins_count = 3;
    input
        .user
        .app_metadata
        .insert("roles".into(), json!(["admin"]));
    let context = &mut input.context;
    context.tenant = "acme".into();
    context.protocol = Protocol::OAuth2RefreshToken;
    context.client_id = "app".into();
    context.client_name = "Acme App".into();
    context.client_metadata.insert("tier".into(), "gold".into());
    context.connection = "Username-Password-Authentication".into();
    context.connection_strategy = "auth0".into();
    context.request.ip = Some("10.1.2.3".into());
    context
        .request
        .body
        .insert("grant_type".into(), json!("refresh_token"));
    context.stats.logins_count = 3;
    context.authorization.roles = vec!["admin".into()];
    context.audience = Some("https://api.acme.test/".into());
    context.scope = vec!["openid".into(), "offline_access".into()];
    context
        .access_token
        .insert("https://acme.test/tier".into(), json!("gold"));
    context.refresh_token = Some(RefreshTokenInfo {
        id: "rtf_1".into(),
        client_id: "app".into(),
        user_id: "auth0|alice".into(),
        created_at: 1_764_000_000_000,
        expires_at: Some(1_766_592_000_000),
        rotating: true,
        scope: vec!["openid".into(), "offline_access".into()],
        ..RefreshTokenInfo::default()
    });
    input
}

fn check_json(value: &impl serde::Serialize, expect: Expect) {
    let text = serde_json::to_string_pretty(value).expect("serializable");
    expect.assert_eq(&text);
}

#[test]
fn input_wire_format() {
    check_json(
        &sample_input(),
        expect![[r#"
            {
              "user": {
                "user_id": "auth0|alice",
                "email": "alice@example.com",
                "email_verified": true,
                "logins_count": 3,
                "app_metadata": {
                  "roles": [
                    "admin"
                  ]
                }
              },
              "context": {
                "tenant": "acme",
                "protocol": "oauth2-refresh-token",
                "clientID": "app",
                "clientName": "Acme App",
                "clientMetadata": {
                  "tier": "gold"
                },
                "connection": "Username-Password-Authentication",
                "connectionStrategy": "auth0",
                "request": {
                  "ip": "10.1.2.3",
                  "body": {
                    "grant_type": "refresh_token"
                  }
                },
                "stats": {
                  "loginsCount": 3
                },
                "authorization": {
                  "roles": [
                    "admin"
                  ]
                },
                "audience": "https://api.acme.test/",
                "scope": [
                  "openid",
                  "offline_access"
                ],
                "accessToken": {
                  "https://acme.test/tier": "gold"
                },
                "refreshToken": {
                  "id": "rtf_1",
                  "client_id": "app",
                  "user_id": "auth0|alice",
                  "created_at": 1764000000000,
                  "expires_at": 1766592000000,
                  "rotating": true,
                  "scope": [
                    "openid",
                    "offline_access"
                  ]
                }
              },
              "configuration": {
                "ALLOWED_CIDRS": "10.0.0.0/8"
              },
              "now": 1764236400000,
              "seed": 42
            }"#]],
    );
}

#[test]
fn outcome_wire_format() {
    let mut outcome = RuleOutcome::default();
    outcome
        .id_token
        .insert("https://acme.test/roles".into(), json!(["admin"]));
    outcome
        .access_token
        .insert("https://acme.test/roles".into(), json!(["admin"]));
    outcome.access_token_scope = Some(vec!["read:reports".into()]);
    outcome.deny = Some(Deny {
        error: DenyError::Unauthorized,
        description: "blocked".into(),
    });
    outcome.redirect = Some(Redirect {
        url: "https://acme.test/terms".into(),
    });
    outcome
        .app_metadata
        .insert("terms_seen".into(), json!(true));
    outcome.user_metadata.insert("theme".into(), json!("dark"));
    outcome.revoke_refresh_token = Some(RevokeRefreshToken {
        reason: "device lost".into(),
    });
    outcome.refresh_token_expires_at = Some(1_766_000_000_000);
    outcome.refresh_token_idle_expires_at = Some(1_765_000_000_000);
    check_json(
        &outcome,
        expect![[r#"
        {
          "idToken": {
            "https://acme.test/roles": [
              "admin"
            ]
          },
          "accessToken": {
            "https://acme.test/roles": [
              "admin"
            ]
          },
          "accessTokenScope": [
            "read:reports"
          ],
          "deny": {
            "error": "unauthorized",
            "description": "blocked"
          },
          "redirect": {
            "url": "https://acme.test/terms"
          },
          "appMetadata": {
            "terms_seen": true
          },
          "userMetadata": {
            "theme": "dark"
          },
          "revokeRefreshToken": {
            "reason": "device lost"
          },
          "refreshTokenExpiresAt": 1766000000000,
          "refreshTokenIdleExpiresAt": 1765000000000
        }"#]],
    );
}

#[test]
fn empty_outcome_is_an_empty_object() {
    assert_eq!(
        serde_json::to_string(&RuleOutcome::default()).unwrap(),
        "{}"
    );
    assert_eq!(decode_outcome(b"{}", 64).unwrap(), RuleOutcome::default());
}

#[test]
fn input_round_trips_and_tolerates_unknown_fields() {
    let input = sample_input();
    let mut value = serde_json::to_value(&input).unwrap();
    value["futureField"] = json!({"x": 1});
    value["context"]["futureContextField"] = json!(true);
    value["user"]["multifactor"] = json!(["guardian"]);
    let back: RuleInput = serde_json::from_value(value).unwrap();
    assert_eq!(back, input);
}

#[test]
fn missing_input_fields_default() {
    let input: RuleInput =
        serde_json::from_str(r#"{"context":{"protocol":"oauth2-password"}}"#).unwrap();
    assert_eq!(input.context.protocol, Protocol::OAuth2Password);
    assert!(input.user.app_metadata.is_empty());
}

#[test]
fn unknown_protocols_are_kept_verbatim() {
    let protocol: Protocol = serde_json::from_str(r#""oauth2-token-exchange""#).unwrap();
    assert_eq!(protocol, Protocol::Other("oauth2-token-exchange".into()));
    assert_eq!(
        serde_json::to_string(&protocol).unwrap(),
        r#""oauth2-token-exchange""#
    );
    assert!(!protocol.is_interactive());
    assert!(Protocol::OidcBasicProfile.is_interactive());
    assert!(!Protocol::OAuth2RefreshToken.is_interactive());
    assert!(!Protocol::OAuth2Password.is_interactive());
}

fn decode_err(text: &str) -> String {
    decode_outcome(text.as_bytes(), 64 * 1024)
        .unwrap_err()
        .to_string()
}

#[test]
fn outcome_is_parsed_strictly() {
    expect!["output is not a valid outcome: unknown field `claims`, expected one of `idToken`, `accessToken`, `accessTokenScope`, `deny`, `redirect`, `appMetadata`, `userMetadata`, `revokeRefreshToken`, `refreshTokenExpiresAt`, `refreshTokenIdleExpiresAt`"].assert_eq(&decode_err(r#"{"idToken":{},"claims":{}}"#));
    expect!["output is not a valid outcome: unknown variant `server_error`, expected `unauthorized` or `access_denied`"].assert_eq(&decode_err(r#"{"deny":{"error":"server_error","description":"x"}}"#));
    expect!["output is not a valid outcome: missing field `description`"]
        .assert_eq(&decode_err(r#"{"deny":{"error":"access_denied"}}"#));
    expect![
        "output is invalid: redirect url must be an absolute http(s) URL of at most 2048 bytes"
    ]
    .assert_eq(&decode_err(r#"{"redirect":{"url":"javascript:alert(1)"}}"#));
    expect![[r#"output is invalid: scope "read reports" is not a valid scope token"#]]
        .assert_eq(&decode_err(r#"{"accessTokenScope":["read reports"]}"#));
    expect![[r#"output is invalid: metadata key "a.b" is empty or contains '.'"#]]
        .assert_eq(&decode_err(r#"{"appMetadata":{"a.b":1}}"#));
    expect!["output is invalid: a claim name is empty"]
        .assert_eq(&decode_err(r#"{"idToken":{"":1}}"#));
    expect!["output is not a valid outcome: the outcome and its deny, redirect and revokeRefreshToken must be JSON objects"].assert_eq(&decode_err(r#"[]"#));
    expect!["output is not a valid outcome: the outcome and its deny, redirect and revokeRefreshToken must be JSON objects"].assert_eq(&decode_err(r#"{"deny":["unauthorized","x"]}"#));
    expect!["output is not a valid outcome: trailing characters at line 1 column 16"]
        .assert_eq(&decode_err(r#"{"idToken":{}} trailing"#));
}

/// Well-formed outputs are read in one pass, anything else the slow way: both must give the
/// same outcome, including where serde's typed reading alone would differ.
#[test]
fn the_one_pass_reading_gives_what_the_slow_reading_gives() {
    let read = |text: &str| decode_outcome(text.as_bytes(), 64 * 1024).unwrap();
    // A repeated member: the last one wins, as it did when every output went through `Value`.
    let repeated = read(r#"{"idToken":{"a":1},"idToken":{"b":2}}"#);
    assert_eq!(
        repeated.id_token,
        json!({"b": 2}).as_object().unwrap().clone()
    );
    assert_eq!(
        read(r#"{"deny":null,"redirect":null}"#),
        RuleOutcome::default()
    );
    let spaced = read(" \n{\"deny\":{\"error\":\"unauthorized\",\"description\":\"no\"}}");
    assert_eq!(
        spaced.deny,
        Some(Deny {
            error: DenyError::Unauthorized,
            description: "no".into()
        })
    );
    expect!["output is not a valid outcome: the outcome and its deny, redirect and revokeRefreshToken must be JSON objects"].assert_eq(&decode_err(r#"{"idToken":{},"revokeRefreshToken":["x"]}"#));
}

#[test]
fn outcome_size_utf8_and_depth_are_capped() {
    assert_eq!(
        decode_outcome(&[b' '; 65], 64),
        Err(OutcomeError::TooLarge { len: 65, max: 64 })
    );
    assert_eq!(
        decode_outcome(b"{\"idToken\":{\"a\":\"\xff\"}}", 64),
        Err(OutcomeError::InvalidUtf8 { valid_up_to: 17 })
    );
    let deep = format!(
        "{{\"idToken\":{{\"a\":{}{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(
        decode_outcome(deep.as_bytes(), 1 << 20),
        Err(OutcomeError::TooDeep {
            max: MAX_OUTCOME_DEPTH
        })
    );
    // Brackets inside strings do not count as nesting.
    let in_string = format!("{{\"idToken\":{{\"a\":\"{}\"}}}}", "[".repeat(100));
    assert!(decode_outcome(in_string.as_bytes(), 1 << 20).is_ok());
    // The deepest legal outcome still parses.
    let legal = format!(
        "{{\"idToken\":{{\"a\":{}{}}}}}",
        "[".repeat(MAX_OUTCOME_DEPTH - 2),
        "]".repeat(MAX_OUTCOME_DEPTH - 2)
    );
    assert!(decode_outcome(legal.as_bytes(), 1 << 20).is_ok());
}

#[test]
fn output_location_packs_and_unpacks() {
    for (ptr, len) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x8000_0000, 7)] {
        assert_eq!(unpack_output(pack_output(ptr, len)), (ptr, len));
    }
}

#[test]
fn names_are_stable() {
    let names = [
        HOST_MODULE,
        imports::LOG,
        exports::MEMORY,
        exports::ALLOC,
        exports::ON_TOKEN,
        exports::ABI_MARKER,
        exports::ABI_MARKER_V1,
    ];
    expect![[r#"
        [
            "claimsmith",
            "log",
            "memory",
            "alloc",
            "on_token",
            "claimsmith_rule_abi_v2",
            "claimsmith_rule_abi_v1",
        ]
    "#]]
    .assert_debug_eq(&names);
    assert!(exports::ABI_MARKER.starts_with(ABI_MARKER_PREFIX));
    assert!(exports::ABI_MARKER.ends_with(&ABI_VERSION.to_string()));
    assert!(exports::ABI_MARKER_V1.starts_with(ABI_MARKER_PREFIX));
    assert_eq!(SUPPORTED_ABI_VERSIONS, [1, ABI_VERSION]);
}

#[test]
fn v2_input_is_the_v1_json_and_a_table_of_its_members() {
    let mut input = RuleInput::default();
    input.user.user_id = "u".into();
    input.context.scope = vec!["openid".into()];
    input.configuration.insert("KEY".into(), "value".into());
    input.now = 5;
    let encoded = members::encode(&input).unwrap();
    let (document, table) = members::decode(&encoded).unwrap();
    assert_eq!(
        document,
        serde_json::to_vec(&input).unwrap(),
        "version 1's JSON, as is"
    );
    let listed: Vec<String> = table
        .iter()
        .map(|m| {
            let value = std::str::from_utf8(&document[m.start..m.start + m.len]).unwrap();
            format!("{:?} {} = {value}", m.object.unwrap(), m.key)
        })
        .collect();
    expect![[r#"
        [
            "Event user = {\"user_id\":\"u\"}",
            "Event context = {\"tenant\":\"\",\"protocol\":\"oidc-basic-profile\",\"clientID\":\"\",\"clientName\":\"\",\"connection\":\"\",\"connectionStrategy\":\"\",\"request\":{},\"stats\":{\"loginsCount\":0},\"authorization\":{\"roles\":[]},\"scope\":[\"openid\"]}",
            "Event configuration = {\"KEY\":\"value\"}",
            "Event now = 5",
            "Event seed = 0",
            "Configuration KEY = \"value\"",
            "Context tenant = \"\"",
            "Context protocol = \"oidc-basic-profile\"",
            "Context clientID = \"\"",
            "Context clientName = \"\"",
            "Context connection = \"\"",
            "Context connectionStrategy = \"\"",
            "Context request = {}",
            "Context stats = {\"loginsCount\":0}",
            "Context authorization = {\"roles\":[]}",
            "Context scope = [\"openid\"]",
            "User user_id = \"u\"",
        ]
    "#]]
    .assert_debug_eq(&listed);
}

/// The host's one-pass encoder and the scan of written JSON find the same members, and the
/// document is `serde_json`'s, escapes and all.
#[test]
fn recording_while_writing_finds_what_a_scan_finds() {
    let mut input = sample_input();
    input
        .configuration
        .insert("QUOTE\"D".into(), "a \"b\" \\ \u{e9}".into());
    input.configuration.insert("PLAIN".into(), "x".into());
    let recorded = members::encode(&input).unwrap();
    let scanned = members::encode_document(&serde_json::to_vec(&input).unwrap()).unwrap();
    let listing = |encoded: &[u8]| {
        let (document, table) = members::decode(encoded).unwrap();
        let mut listed: Vec<(String, String, Vec<u8>)> = table
            .iter()
            .map(|m| {
                let value = document[m.start..m.start + m.len].to_vec();
                (format!("{:?}", m.object), m.key.to_owned(), value)
            })
            .collect();
        listed.sort();
        (document.to_vec(), listed)
    };
    let (recorded_document, recorded_members) = listing(&recorded);
    let (scanned_document, scanned_members) = listing(&scanned);
    assert_eq!(recorded_document, scanned_document);
    assert_eq!(recorded_members, scanned_members);
    assert!(
        recorded_members
            .iter()
            .any(|(object, key, _)| object == "Some(Configuration)" && key == "QUOTE\"D")
    );
}

/// A chain gives each rule its own seed without copying the event: the encoding with another
/// seed is the encoding of the event holding that seed.
#[test]
fn a_seed_given_apart_is_written_as_the_events_seed() {
    let mut input = sample_input();
    input.seed = 1;
    let apart = members::encode_with_seed(&input, 0xfeed).unwrap();
    let v1 = members::json_with_seed(&input, 0xfeed).unwrap();
    input.seed = 0xfeed;
    assert_eq!(apart, members::encode(&input).unwrap());
    assert_eq!(v1, serde_json::to_vec(&input).unwrap());
}

#[test]
fn a_malformed_v2_table_is_refused_with_its_reason() {
    let good = members::encode(&RuleInput::default()).unwrap();
    let reason = |bytes: &[u8]| members::decode(bytes).unwrap_err().to_string();
    assert_eq!(
        reason(&good[..3]),
        "malformed ABI v2 input: the input ends early"
    );
    assert_eq!(
        reason(&good[..good.len() - 1]),
        "malformed ABI v2 input: the input ends early"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        reason(&trailing),
        "malformed ABI v2 input: bytes follow the table"
    );

    let document = br#"{"now":1}"#;
    let entry = |start: u32, len: u32| {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(document.len() as u32).to_le_bytes());
        bytes.extend_from_slice(document);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&[0, 3]);
        bytes.extend_from_slice(b"now");
        bytes.extend_from_slice(&start.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes
    };
    assert!(members::decode(&entry(7, 1)).is_ok());
    assert_eq!(
        reason(&entry(7, 3)),
        "malformed ABI v2 input: a member lies outside the document"
    );
    assert_eq!(
        reason(&entry(u32::MAX, 2)),
        "malformed ABI v2 input: a member lies outside the document"
    );
    let mut lying_count = entry(7, 1);
    lying_count[4 + document.len()..8 + document.len()].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        reason(&lying_count),
        "malformed ABI v2 input: the entry count exceeds the input"
    );
}
