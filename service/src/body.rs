//! Reading a request's body within a size and a time: a client may declare no length, send
//! more than it may, or send it a byte at a time.
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More than the limit.
    TooLarge,
    /// The client went away, or its body was malformed (a broken chunk).
    Aborted,
    /// It did not arrive whole within the time.
    TimedOut,
}

/// The whole body, at most `limit` bytes, received within `timeout`.
pub async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if is_length_limit(&e) => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Aborted),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// Whether an error of a body stream is the body limit (RequestBodyLimitLayer) passed.
pub fn is_length_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The size and time a body is read within (whole_body).
#[derive(Debug, Clone, Copy)]
pub struct BodyRule {
    pub limit: usize,
    pub timeout: Duration,
}

/// Middleware: reads every request's body whole, within its rule, before the handler runs, so
/// no extractor waits on a slow client or holds a large body; answers 413, 400 or 408 instead.
/// Those answers say `Connection: close`: a body not read whole leaves the connection unusable,
/// and the server closes it after them.
pub async fn whole_body(State(rule): State<BodyRule>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let (status, text) = match read_body(body, rule.limit, rule.timeout).await {
        Ok(bytes) => {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(BodyError::TooLarge) => (StatusCode::PAYLOAD_TOO_LARGE, "the body is too large"),
        Err(BodyError::Aborted) => (StatusCode::BAD_REQUEST, "the body did not arrive whole"),
        Err(BodyError::TimedOut) => (
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time",
        ),
    };
    (status, [(header::CONNECTION, "close")], text).into_response()
}
