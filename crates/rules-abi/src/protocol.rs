use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `context.protocol`: which flow is issuing tokens, with Auth0's values.
///
/// Unknown values are kept in [`Protocol::Other`] rather than rejected, so a rule built before
/// the host learned a new flow still runs (and can still compare the string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `oidc-basic-profile`: the authorization-code exchange (with or without PKCE).
    #[default]
    OidcBasicProfile,
    /// `oidc-implicit-profile`.
    OidcImplicitProfile,
    /// `oidc-hybrid-profile`.
    OidcHybridProfile,
    /// `oauth2-password`: the resource-owner password grant, also with `realm`.
    OAuth2Password,
    /// `oauth2-refresh-token`: a refresh token is exchanged. No user is present.
    OAuth2RefreshToken,
    /// `oauth2-device-code`: the device authorization grant.
    OAuth2DeviceCode,
    /// `redirect-callback`: the flow resumed after a rule redirected the user.
    RedirectCallback,
    /// Any value this version does not know, kept verbatim.
    Other(String),
}

impl Protocol {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::OidcBasicProfile => "oidc-basic-profile",
            Protocol::OidcImplicitProfile => "oidc-implicit-profile",
            Protocol::OidcHybridProfile => "oidc-hybrid-profile",
            Protocol::OAuth2Password => "oauth2-password",
            Protocol::OAuth2RefreshToken => "oauth2-refresh-token",
            Protocol::OAuth2DeviceCode => "oauth2-device-code",
            Protocol::RedirectCallback => "redirect-callback",
            Protocol::Other(other) => other,
        }
    }

    /// Parses a wire string; never fails.
    pub fn parse(value: &str) -> Protocol {
        match value {
            "oidc-basic-profile" => Protocol::OidcBasicProfile,
            "oidc-implicit-profile" => Protocol::OidcImplicitProfile,
            "oidc-hybrid-profile" => Protocol::OidcHybridProfile,
            "oauth2-password" => Protocol::OAuth2Password,
            "oauth2-refresh-token" => Protocol::OAuth2RefreshToken,
            "oauth2-device-code" => Protocol::OAuth2DeviceCode,
            "redirect-callback" => Protocol::RedirectCallback,
            other => Protocol::Other(other.to_owned()),
        }
    }

    /// Whether a user is at a browser who could be redirected. A redirect asked for in any other
    /// flow is refused by the host.
    pub fn is_interactive(&self) -> bool {
        matches!(
            self,
            Protocol::OidcBasicProfile
                | Protocol::OidcImplicitProfile
                | Protocol::OidcHybridProfile
                | Protocol::OAuth2DeviceCode
                | Protocol::RedirectCallback
        )
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Protocol::parse(&value))
    }
}
