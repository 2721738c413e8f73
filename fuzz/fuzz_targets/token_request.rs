//! The token endpoint's request parsing: any content type, Authorization header and body,
//! then the refresh-token parser on every parameter. Errors are answers; nothing panics.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &str, &[u8])| {
    let (kind, authorization, body) = input;
    let mut headers = HeaderMap::new();
    let content_type = match kind % 4 {
        0 => "application/x-www-form-urlencoded",
        1 => "application/json",
        2 => "application/json; charset=utf-8",
        _ => "text/plain",
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok((params, _credentials)) = oidc_server::parse_token_request(&headers, body) {
        let keys = oidc_core::RefreshKeys::derive(&[7; 32]);
        for value in params.values() {
            let _ = keys.parse("acme", value);
        }
    }
});
