//! The [`Event`] a rule reads: the host's input, decoded member by member as the rule reads it.
//!
//! Each field has the name and type of [`RuleInput`]'s (Auth0's `user` and `context`), wrapped
//! in [`Lazy`]. The input is ABI version 2's ([`rules_abi::members`]): a table says where each
//! member's JSON lies, so reading `event.context.authorization.roles` decodes that one small
//! object and nothing else.

use std::collections::BTreeMap;

use rules_abi::members::{self, MemberError, Object};
use rules_abi::{
    Authentication, Authorization, Claims, Identity, Protocol, RefreshTokenInfo, Request,
    RuleInput, Sso, Stats,
};

use crate::Configuration;
use crate::lazy::{Input, Lazy, Source};

/// Declares a view of one object of the event: a [`Lazy`] per member, found in the table by
/// its JSON name on first use, and the whole object decoded. The struct literal in `decode_all`
/// names every field of the `rules_abi` type, so a member added there and not here does not
/// compile.
macro_rules! view {
    (
        $(#[$meta:meta])*
        $view:ident for $owned:ident at $prefix:literal in $object:ident {
            $( $(#[$field_meta:meta])* $field:ident: $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        pub struct $view {
            $( $(#[$field_meta])* pub $field: Lazy<$ty>, )*
        }

        impl $view {
            fn new(input: &'static Input) -> $view {
                $view {
                    $( $field: Lazy::new(
                        concat!($prefix, ".", $key),
                        Source { input, object: Object::$object, key: $key },
                    ), )*
                }
            }

            /// Every member, decoded: the object as the host sent it.
            pub fn decode_all(&self) -> rules_abi::$owned {
                rules_abi::$owned { $( $field: Lazy::force(&self.$field).clone(), )* }
            }
        }
    };
}

view! {
    /// The user tokens are being issued for, in the shape of Auth0's rule `user` object.
    UserView for User at "user" in User {
        /// The stable identifier, the `sub` of the tokens.
        user_id: String = "user_id",
        email: Option<String> = "email",
        email_verified: bool = "email_verified",
        username: Option<String> = "username",
        name: Option<String> = "name",
        nickname: Option<String> = "nickname",
        given_name: Option<String> = "given_name",
        family_name: Option<String> = "family_name",
        picture: Option<String> = "picture",
        phone_number: Option<String> = "phone_number",
        phone_verified: bool = "phone_verified",
        /// RFC 3339 timestamps, as Auth0 sends them.
        created_at: Option<String> = "created_at",
        updated_at: Option<String> = "updated_at",
        last_login: Option<String> = "last_login",
        last_ip: Option<String> = "last_ip",
        logins_count: u64 = "logins_count",
        blocked: bool = "blocked",
        /// Data the user cannot change (roles, plan, flags).
        app_metadata: Claims = "app_metadata",
        /// Data the user may change (preferences).
        user_metadata: Claims = "user_metadata",
        /// The accounts the user signs in with; one per connection.
        identities: Vec<Identity> = "identities",
    }
}

view! {
    /// The issuance, in the shape of Auth0's rule `context` object.
    ContextView for Context at "context" in Context {
        /// The tenant name.
        tenant: String = "tenant",
        /// Which flow is issuing tokens.
        protocol: Protocol = "protocol",
        client_id: String = "clientID",
        client_name: String = "clientName",
        /// The client's `client_metadata`: string keys to string values.
        client_metadata: BTreeMap<String, String> = "clientMetadata",
        /// The connection the user authenticated with.
        connection: String = "connection",
        connection_strategy: String = "connectionStrategy",
        connection_id: String = "connectionID",
        /// The single sign-on session, in interactive flows.
        sso: Option<Sso> = "sso",
        /// On `redirect-callback`: the protocol the login started with.
        original_protocol: Option<Protocol> = "original_protocol",
        request: Request = "request",
        stats: Stats = "stats",
        authorization: Authorization = "authorization",
        authentication: Option<Authentication> = "authentication",
        session_id: Option<String> = "sessionID",
        /// The API (`aud`) the access token is for, when one was requested.
        audience: Option<String> = "audience",
        /// The access-token scope as it stands, after any change by an earlier rule.
        scope: Vec<String> = "scope",
        /// Custom ID-token claims set by earlier rules in this chain.
        id_token: Claims = "idToken",
        /// Custom access-token claims set by earlier rules in this chain.
        access_token: Claims = "accessToken",
        /// The refresh token being exchanged, on `oauth2-refresh-token` only.
        refresh_token: Option<RefreshTokenInfo> = "refreshToken",
    }
}

/// What a rule sees: the user, the issuance context and the tenant configuration, each
/// member decoded when the rule first reads it.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// The user tokens are being issued for.
    pub user: UserView,
    /// The issuance: protocol, client, request and the claims set so far.
    pub context: ContextView,
    /// The tenant's rule configuration (Auth0's `configuration` global).
    pub configuration: Configuration,
    /// The host's clock in milliseconds since the Unix epoch (rules have no clock import).
    pub now: Lazy<u64>,
    /// A fresh random value per call (rules have no entropy import).
    pub seed: Lazy<u64>,
}

impl Event {
    /// Reads an ABI version 2 input. Only the table is checked here; each member is found and
    /// decoded when it is first read. Members this SDK does not know (the host is newer) are
    /// never looked at.
    pub(crate) fn from_input(input: &'static [u8]) -> Result<Event, MemberError> {
        let index = members::Index::new(input)?;
        let input: &'static Input = Box::leak(Box::new(Input {
            bytes: input,
            index,
        }));
        let member = |key| Source {
            input,
            object: Object::Event,
            key,
        };
        Ok(Event {
            user: UserView::new(input),
            context: ContextView::new(input),
            configuration: Configuration::new(input, member("configuration")),
            now: Lazy::new("now", member("now")),
            seed: Lazy::new("seed", member("seed")),
        })
    }

    /// Every member, decoded: the whole input as one [`RuleInput`], for code written against
    /// it. This costs what version 1 cost (the whole event parsed); prefer the fields.
    pub fn decode_all(&self) -> RuleInput {
        RuleInput {
            user: self.user.decode_all(),
            context: self.context.decode_all(),
            configuration: self.configuration.to_map(),
            now: *Lazy::force(&self.now),
            seed: *Lazy::force(&self.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use rules_abi::members;
    use serde_json::json;

    use super::*;

    fn leak(input: Vec<u8>) -> &'static [u8] {
        Box::leak(input.into_boxed_slice())
    }

    /// Every member of every object set to something other than its default, so a JSON name
    /// the view spells differently from `rules_abi` loses a value and fails the comparison.
    fn everything() -> RuleInput {
        serde_json::from_value(json!({
            "user": {
                "user_id": "auth0|u1", "email": "u1@example.com", "email_verified": true,
                "username": "u1", "name": "U One", "nickname": "u", "given_name": "U",
                "family_name": "One", "picture": "https://x.test/p.png", "phone_number": "+1555",
                "phone_verified": true, "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-02T00:00:00Z", "last_login": "2026-01-03T00:00:00Z",
                "last_ip": "192.0.2.1", "logins_count": 3, "blocked": true,
                "app_metadata": {"roles": ["admin"]}, "user_metadata": {"theme": "dark"},
                "identities": [{"connection": "db", "provider": "auth0", "user_id": "u1", "isSocial": false}]
            },
            "context": {
                "tenant": "t", "protocol": "redirect-callback", "clientID": "c", "clientName": "C",
                "clientMetadata": {"tier": "gold"}, "connection": "db", "connectionStrategy": "auth0",
                "connectionID": "con_1", "sso": {"with_auth0": true, "with_dbconn": true, "current_clients": ["c"]},
                "original_protocol": "oidc-basic-profile",
                "request": {"ip": "192.0.2.1", "userAgent": "ua", "hostname": "h", "query": {"a": "1"}, "body": {"b": "2"}},
                "stats": {"loginsCount": 3}, "authorization": {"roles": ["editor"]},
                "authentication": {"methods": [{"name": "pwd", "timestamp": 5}]},
                "sessionID": "s1", "audience": "https://api.test/", "scope": ["openid", "a:b"],
                "idToken": {"https://x.test/a": 1}, "accessToken": {"https://x.test/b": 2},
                "refreshToken": {"id": "rtf", "client_id": "c", "user_id": "auth0|u1", "created_at": 1,
                                  "expires_at": 9, "idle_expires_at": 8, "last_exchanged_at": 2,
                                  "rotating": true, "session_id": "s1", "scope": ["openid"]}
            },
            "configuration": {"K": "V \"quoted\" \\ \u{e9}"},
            "now": 1_764_236_400_000u64,
            "seed": 42
        }))
        .expect("a valid event")
    }

    #[test]
    fn every_member_reads_back_as_the_host_sent_it() {
        let input = everything();
        let event = Event::from_input(leak(members::encode(&input).unwrap())).unwrap();
        assert_eq!(event.decode_all(), input);
        assert_eq!(
            serde_json::to_value(event.decode_all()).unwrap(),
            serde_json::to_value(&input).unwrap(),
            "and nothing is left at its default"
        );
        assert_eq!(crate::lazy::take_unreadable(), None);
    }

    #[test]
    fn members_a_rule_does_not_read_are_never_decoded() {
        let event = Event::from_input(leak(members::encode(&everything()).unwrap())).unwrap();
        assert_eq!(event.context.authorization.roles, ["editor"]);
        assert!(Lazy::is_decoded(&event.context.authorization));
        assert!(!Lazy::is_decoded(&event.user.app_metadata));
        assert!(!Lazy::is_decoded(&event.context.request));
    }

    #[test]
    fn members_from_a_newer_host_are_ignored_and_left_out_ones_are_defaults() {
        let document = br#"{"user":{"user_id":"u","future":{"x":1}},"context":{"scope":["openid"],"later":2},"newer":true}"#;
        let event = Event::from_input(leak(members::encode_document(document).unwrap())).unwrap();
        assert_eq!(*event.user.user_id, "u");
        assert_eq!(event.context.scope, vec!["openid".to_owned()]);
        assert_eq!(event.context.protocol, Protocol::default());
        assert!(event.configuration.is_empty());
        assert_eq!(*event.now, 0);
        assert_eq!(crate::lazy::take_unreadable(), None);
    }
}
