//! GET and POST /webhook (the shared Meta app) and /webhook/{slug} (a tenant's own app).
//! Every POST is checked in this order: a well-formed X-Hub-Signature-256 before any of the
//! body is read (without one the answer is 401 at once), the body read within its limits while
//! its HMAC is computed, the signature compared, and only then is the database asked.
use super::signature::{self, Verifier};
use super::AppState;
use crate::batch::Failed;
use crate::contract::IngestCounts;
use alphadome_service::body::{is_length_limit, BodyError};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Meta documents webhook payloads of up to 3 MB; a larger body is answered 413 unless
/// ALPHADOME_WEBHOOK_BODY_LIMIT says otherwise.
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Bytes of a body hashed on the request's own thread; a longer stretch is hashed on the
/// blocking pool (one at a time per hashing permit), so a flood of large bodies leaves the
/// request threads free for health checks and small webhooks.
const INLINE_HASH: usize = 64 * 1024;

/// A body this large, once dropped, asks for the allocator to hand memory back (serve.rs).
pub const LARGE_BODY: usize = 1024 * 1024;

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn challenge_reply(query: &Handshake, verified: bool) -> Response {
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && verified => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

pub async fn verify_shared(
    State(state): State<Arc<AppState>>,
    Query(query): Query<Handshake>,
) -> Response {
    let verified = match (&state.shared_verify_token, &query.verify_token) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    };
    challenge_reply(&query, verified)
}

pub async fn verify_tenant(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    Query(query): Query<Handshake>,
) -> Response {
    let verified = match (state.routes.get(&slug), &query.verify_token) {
        (Some(route), Some(token)) => route.verify_token_matches(token),
        _ => false,
    };
    challenge_reply(&query, verified)
}

pub async fn receive_shared(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let Some(secret) = state.shared_app_secret.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "no shared Meta app is configured (META_APP_SECRET)",
        )
            .into_response();
    };
    receive(
        &state,
        started,
        &headers,
        body,
        Some(secret.as_bytes()),
        None,
    )
    .await
}

pub async fn receive_tenant(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // An unknown slug, or a tenant without an app secret, is read and hashed like any other
    // (under a key nobody has) and answered 401 like any bad signature: its timing and its
    // answer say nothing about which slugs exist.
    let route = state.routes.get(&slug);
    let (secret, tenant) = match route.as_deref() {
        Some(super::routes::Route {
            app_secret: Some(secret),
            tenant_id,
            ..
        }) => (
            Some(secret.expose().as_bytes().to_vec()),
            Some(tenant_id.clone()),
        ),
        _ => (None, None),
    };
    receive(&state, started, &headers, body, secret.as_deref(), tenant).await
}

/// Answers a webhook and counts it (the metric's result label) with its handling time.
fn answer(
    state: &AppState,
    started: Instant,
    result: &'static str,
    response: Response,
) -> Response {
    state.metrics.webhook(result, started.elapsed());
    response
}

/// An answer given before the body was read whole: the connection cannot be used again, and
/// says so.
pub fn refused_unread(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// The metric's result and the answer for a body that was not read.
fn body_refusal(e: BodyError) -> (&'static str, Response) {
    match e {
        BodyError::TooLarge => (
            "too_large",
            refused_unread(StatusCode::PAYLOAD_TOO_LARGE, "body over the limit"),
        ),
        BodyError::Aborted => (
            "aborted",
            refused_unread(StatusCode::BAD_REQUEST, "the body did not arrive whole"),
        ),
        BodyError::TimedOut => (
            "aborted",
            refused_unread(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            ),
        ),
    }
}

/// The body, within the limit and the body timeout, and its HMAC, computed as it arrives: at
/// most INLINE_HASH bytes on this thread, longer stretches on the blocking pool.
async fn read_and_hash(
    state: &AppState,
    body: Body,
    verifier: Verifier,
) -> Result<(Vec<u8>, Verifier), BodyError> {
    let limit = state.body_limit;
    let reading = async move {
        let mut stream = body.into_data_stream();
        // Grown as the bytes come, never sized from what the client declared.
        let mut whole: Vec<u8> = Vec::new();
        let mut hashed = 0;
        let mut verifier = verifier;
        loop {
            let piece = match stream.next().await {
                Some(Ok(piece)) => Some(piece),
                Some(Err(e)) if is_length_limit(&e) => return Err(BodyError::TooLarge),
                Some(Err(_)) => return Err(BodyError::Aborted),
                None => None,
            };
            let end = piece.is_none();
            if let Some(piece) = piece {
                if whole.len() + piece.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                whole.extend_from_slice(&piece);
            }
            let unhashed = whole.len() - hashed;
            if unhashed >= INLINE_HASH {
                let permit = state.hashing.acquire().await.expect("never closed");
                let from = hashed;
                (whole, verifier) = tokio::task::spawn_blocking(move || {
                    verifier.update(&whole[from..]);
                    (whole, verifier)
                })
                .await
                .map_err(|_| BodyError::Aborted)?;
                drop(permit);
                hashed += unhashed;
            } else if end {
                verifier.update(&whole[hashed..]);
            }
            if end {
                return Ok((whole, verifier));
            }
        }
    };
    tokio::time::timeout(state.body_timeout, reading)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

async fn receive(
    state: &AppState,
    started: Instant,
    headers: &HeaderMap,
    body: Body,
    secret: Option<&[u8]>,
    route: Option<String>,
) -> Response {
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let Some(expected) = signature::parse(header) else {
        // Meta signs every delivery: nothing without a signature is worth a byte of its body.
        let response = refused_unread(StatusCode::UNAUTHORIZED, "bad signature");
        return answer(state, started, "unauthorized", response);
    };
    let verifier = Verifier::new(secret.unwrap_or(&state.dummy_key));
    let (bytes, verifier) = match read_and_hash(state, body, verifier).await {
        Ok(read) => read,
        Err(e) => {
            let (result, response) = body_refusal(e);
            return answer(state, started, result, response);
        }
    };
    if bytes.len() >= LARGE_BODY {
        state.large_body_seen.store(true, Ordering::Relaxed);
    }
    // Compared whatever the key was, so a route without a secret takes the same time.
    let signed = verifier.matches(&expected);
    if !signed || secret.is_none() {
        tracing::warn!(
            route = if route.is_some() { "tenant" } else { "shared" },
            "webhook with a missing or bad signature refused"
        );
        let response = (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        return answer(state, started, "unauthorized", response);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        let response = (StatusCode::BAD_REQUEST, "body is not UTF-8").into_response();
        return answer(state, started, "malformed", response);
    };
    let ingest_started = Instant::now();
    // Committed with the webhooks that arrive at the same time; answered after the commit.
    let result = state
        .ingest
        .call(vec![Box::new(text), Box::new(route)])
        .await;
    state.metrics.ingest(ingest_started.elapsed());
    match result.map(|row| row.get::<_, serde_json::Value>(0)) {
        Ok(value) => {
            let counts: IngestCounts = serde_json::from_value(value.clone()).unwrap_or_default();
            state.metrics.messages("accepted", counts.accepted);
            state.metrics.messages("duplicate", counts.duplicates);
            tracing::info!(
                event_id = counts.event_id,
                accepted = counts.accepted,
                duplicates = counts.duplicates,
                statuses = counts.statuses,
                ignored = counts.ignored,
                refused = counts.refused,
                jobs = counts.jobs,
                "webhook ingested"
            );
            answer(
                state,
                started,
                "accepted",
                (StatusCode::OK, axum::Json(value)).into_response(),
            )
        }
        // Not JSON (22P02), not a webhook (22023): nothing in it can be recorded. Whatever
        // else a signed body holds is answered 200 by ingest, with what it refused.
        Err(Failed::Refused(e))
            if e.code()
                .is_some_and(|c| c.code() == "22023" || c.code() == "22P02") =>
        {
            tracing::warn!(
                error = alphadome_service::database::describe(&e),
                "webhook body refused"
            );
            let response = (StatusCode::BAD_REQUEST, "not a WhatsApp webhook").into_response();
            answer(state, started, "malformed", response)
        }
        Err(Failed::Refused(e)) => {
            tracing::error!(
                error = alphadome_service::database::describe(&e),
                "ingest failed: answering 503 so Meta retries"
            );
            unavailable(state, started)
        }
        Err(Failed::Unavailable(why)) => {
            tracing::error!(
                error = why,
                "database unavailable: answering 503 so Meta retries"
            );
            unavailable(state, started)
        }
    }
}

/// 503 for a webhook that could not be recorded: Meta retries it for up to 7 days, so nothing
/// that got no 200 is lost while the database is away.
fn unavailable(state: &AppState, started: Instant) -> Response {
    let response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "database unavailable, try again",
    )
        .into_response();
    answer(state, started, "unavailable", response)
}
