//! What every request of a public service goes through, around its router: a body limit, a
//! time limit for the whole request, a log span without the query string, security headers
//! on every answer, and (where the handlers do not read bodies themselves) whole bodies within
//! a time.
use crate::body::{whole_body, BodyRule};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub struct Protection {
    /// Largest body accepted: a declared Content-Length over it is refused (413) before any of
    /// the body is read; a body without one, once it passes the limit.
    pub body_limit: usize,
    /// Bodies are read whole within this time before the handler runs (408 after it). None:
    /// the handlers read bodies themselves, within their own time.
    pub body_timeout: Option<Duration>,
    /// Longest a request may take, its handler included, before it is answered 408.
    pub request_timeout: Duration,
    /// The Content-Security-Policy of every answer.
    pub content_security_policy: &'static str,
}

/// A CSP for a service that serves no page: nothing may load, nothing may frame it.
pub const NO_CONTENT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

pub fn protect(router: Router, protection: Protection) -> Router {
    let router = match protection.body_timeout {
        Some(timeout) => router.layer(axum::middleware::from_fn_with_state(
            BodyRule {
                limit: protection.body_limit,
                timeout,
            },
            whole_body,
        )),
        None => router,
    };
    let csp = HeaderValue::from_static(protection.content_security_policy);
    router
        .layer(RequestBodyLimitLayer::new(protection.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            protection.request_timeout,
        ))
        // Spans name the method and the path only: a query string may hold a token.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            tracing::debug_span!("request", method = %request.method(), path = logged_path(request.uri().path()))
        }))
        .layer(axum::middleware::map_response(move |response: Response| {
            security_headers(response, csp.clone())
        }))
}

/// Every answer: only what the policy allows may load, no framing, no referrer to other sites
/// (same-origin: a browser still names this origin on our own forms, which a CSRF check
/// wants), no sniffing, no caching (pages hold a shop's data).
async fn security_headers(mut response: Response, csp: HeaderValue) -> Response {
    // A body refused as too large or too slow was not read whole: the server closes the
    // connection after this answer, and says so.
    let closes = matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    );
    let headers = response.headers_mut();
    if closes {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A path as logs show it: an M-Pesa callback's ends in its secret token, which is cut.
pub fn logged_path(path: &str) -> &str {
    match path.strip_prefix("/mpesa/") {
        Some(rest) => &path[..path.len() - rest.len() + rest.find('/').unwrap_or(rest.len())],
        None => path,
    }
}

#[cfg(test)]
mod logged_path_tests {
    use super::logged_path;

    #[test]
    fn an_mpesa_callbacks_token_is_not_logged() {
        assert_eq!(logged_path("/mpesa/kassangas/0123abcd"), "/mpesa/kassangas");
        assert_eq!(logged_path("/mpesa/kassangas"), "/mpesa/kassangas");
        assert_eq!(logged_path("/webhook/kassangas"), "/webhook/kassangas");
    }
}
