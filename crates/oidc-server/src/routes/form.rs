//! Reading an OAuth request: the body (form or JSON, at most 64 KiB, no repeated parameter)
//! and the client's credentials (HTTP Basic or the body, never both).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oidc_core::{ClientCredentials, OAuthError, RequestInfo, Secret};
use serde::de::{Deserializer, MapAccess, Visitor};

/// Largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) async fn read_body(body: Body) -> Result<axum::body::Bytes, OAuthError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| OAuthError::payload_too_large("The request body exceeds 64 KiB."))
}

/// Parses a token-endpoint request as the handler does: the parameters by content type, then
/// the client's credentials from the `Authorization` header and the body. Public so that the
/// fuzz target drives exactly this code.
pub fn parse_token_request(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(BTreeMap<String, String>, ClientCredentials), OAuthError> {
    let mut params = params(headers, body)?;
    let credentials = credentials(headers, &mut params)?;
    Ok((params, credentials))
}

/// Parses the parameters by content type.
pub(crate) fn params(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut params = BTreeMap::new();
    let mut put = |name: String, value: String| {
        if params.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "Parameter '{name}' is repeated."
            )));
        }
        params.insert(name, value);
        Ok(())
    };
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => {
            for (name, value) in form_urlencoded::parse(body) {
                put(name.into_owned(), value.into_owned())?;
            }
        }
        "application/json" => {
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let pairs = deserializer
                .deserialize_map(StringPairs)
                .and_then(|pairs| deserializer.end().map(|()| pairs))
                .map_err(|e| {
                    OAuthError::invalid_request(format!("The JSON body is invalid: {e}"))
                })?;
            for (name, value) in pairs {
                put(name, value)?;
            }
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded or application/json.",
            ));
        }
    }
    Ok(params)
}

/// A JSON object of string (or number, or boolean) values, in order, duplicates kept so the
/// caller can refuse them.
struct StringPairs;

impl<'de> Visitor<'de> for StringPairs {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of string parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            let value = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Bool(flag) => flag.to_string(),
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "parameter '{name}' must be a string"
                    )));
                }
            };
            pairs.push((name, value));
        }
        Ok(pairs)
    }
}

/// Takes the client's credentials out of the header and the parameters.
pub(crate) fn credentials(
    headers: &HeaderMap,
    params: &mut BTreeMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = params.remove("client_id").filter(|id| !id.is_empty());
    let body_secret = params
        .remove("client_secret")
        .filter(|secret| !secret.is_empty());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Basic ")
                .or_else(|| value.strip_prefix("basic "))
        });
    let Some(encoded) = basic else {
        return match (body_id, body_secret) {
            (Some(client_id), secret) => Ok(ClientCredentials::Post {
                client_id,
                secret: secret.map(Secret::new),
            }),
            (None, Some(_)) => Err(OAuthError::invalid_request(
                "Missing required parameter: client_id",
            )),
            (None, None) => Ok(ClientCredentials::Missing),
        };
    };
    let malformed = || OAuthError::invalid_client("Malformed Basic authorization header.");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (client_id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    let (client_id, secret) = (form_decode(client_id), form_decode(secret));
    if client_id.is_empty() {
        return Err(malformed());
    }
    if body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "Use one client authentication method, not several.",
        ));
    }
    if body_id.is_some_and(|id| id != client_id) {
        return Err(OAuthError::invalid_request(
            "client_id does not match the Authorization header.",
        ));
    }
    Ok(ClientCredentials::Basic {
        client_id,
        secret: Secret::new(secret),
    })
}

fn form_decode(text: &str) -> String {
    form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What the rules may know about the request.
pub(crate) fn request_info(headers: &HeaderMap, peer: std::net::SocketAddr) -> RequestInfo {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestInfo {
        ip: Some(peer.ip().to_string()),
        user_agent: header(header::USER_AGENT),
        hostname: header(header::HOST).map(|host| {
            host.rsplit_once(':')
                .map_or(host.clone(), |(name, _)| name.to_owned())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn form(body: &str) -> Result<BTreeMap<String, String>, OAuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        params(&headers, body.as_bytes())
    }

    fn json(body: &str) -> Result<BTreeMap<String, String>, OAuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        params(&headers, body.as_bytes())
    }

    #[test]
    fn form_and_json_bodies() {
        assert_eq!(
            form("grant_type=password&scope=openid+email").unwrap()["scope"],
            "openid email"
        );
        assert_eq!(
            json(r#"{"grant_type":"password","n":5}"#).unwrap()["n"],
            "5"
        );
    }

    #[test]
    fn repeated_parameters_and_bad_bodies_are_refused() {
        assert_eq!(
            form("a=1&a=2").unwrap_err().description,
            "Parameter 'a' is repeated."
        );
        assert_eq!(
            json(r#"{"a":"1","a":"2"}"#).unwrap_err().description,
            "Parameter 'a' is repeated."
        );
        assert!(
            json(r#"{"a":{"b":1}}"#)
                .unwrap_err()
                .description
                .contains("must be a string")
        );
        assert!(json("[1]").is_err());
        assert!(json(r#"{"a":"1"} x"#).is_err());
        let error = params(&HeaderMap::new(), b"a=1").unwrap_err();
        assert_eq!(
            (error.status(), error.error.as_str()),
            (400, "invalid_request")
        );
    }

    fn basic(value: &str, body: &[(&str, &str)]) -> Result<ClientCredentials, OAuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        let mut params = body
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        credentials(&headers, &mut params)
    }

    #[test]
    fn basic_credentials() {
        let encoded = format!("Basic {}", STANDARD.encode("app:s%3Acret"));
        assert_eq!(
            basic(&encoded, &[]).unwrap(),
            ClientCredentials::Basic {
                client_id: "app".into(),
                secret: Secret::new("s:cret")
            }
        );
        assert_eq!(
            basic("Basic !!!", &[]).unwrap_err().error.as_str(),
            "invalid_client"
        );
        assert_eq!(
            basic(&format!("Basic {}", STANDARD.encode("nocolon")), &[])
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(
            basic(&encoded, &[("client_secret", "x")])
                .unwrap_err()
                .error
                .as_str(),
            "invalid_request"
        );
        assert_eq!(
            basic(&encoded, &[("client_id", "other")])
                .unwrap_err()
                .error
                .as_str(),
            "invalid_request"
        );
    }
}
