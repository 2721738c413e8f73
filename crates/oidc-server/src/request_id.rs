//! A request id on every request: a random id in a tracing span around the handler (so every
//! log line of the request carries it) and in the `X-Request-Id` response header (so a
//! client's report can be matched to the log).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub(crate) const HEADER: &str = "x-request-id";

pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    // An id only has to be unique: the thread's generator (a CSPRNG in user space) spares
    // every request a call into aws-lc's.
    let id = hex::encode(rand::random::<[u8; 8]>());
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
