//! A request id on every request: a random id in a tracing span around the handler (so every
//! log line of the request carries it) and in the `X-Request-Id` response header (so a
//! client's report can be matched to the log).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use oidc_core::Entropy as _;
use tracing::Instrument as _;

pub(crate) const HEADER: &str = "x-request-id";

pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    let mut bytes = [0u8; 8];
    oidc_core::SystemEntropy.fill(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
