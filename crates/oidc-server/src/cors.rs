//! CORS for browser apps (Auth0's `web_origins`): a single-page app on another origin may
//! call the token, revoke, userinfo and device endpoints if some client of the tenant lists
//! its origin. No credentials mode: these endpoints take no cookies, so a page of another
//! origin gains nothing it could not do with its own client id.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oidc_core::OAuthError;

use crate::error::ApiError;
use crate::tenancy::TenantCtx;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

pub(crate) async fn cors(TenantCtx(tenant): TenantCtx, request: Request, next: Next) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            origin
                .to_str()
                .is_ok_and(|origin| tenant.web_origins.contains(origin))
        })
        .cloned();
    if request.method() == Method::OPTIONS {
        let Some(origin) = allowed else {
            return ApiError(OAuthError::access_denied(
                "This origin is not in the web_origins of any client of the tenant.",
            ))
            .into_response();
        };
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        allow(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed {
        allow(response.headers_mut(), origin);
    }
    response
}

/// Discovery and the JWKS are public documents: any origin may read them.
pub(crate) fn public(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
