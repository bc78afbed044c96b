//! GET and POST /webhook (the shared Meta app) and /webhook/{slug} (a tenant's own app).
//! Every POST is checked in this order: the body is read within its limits, the signature is
//! checked on the raw bytes, and only then is the database asked.
use super::signature;
use super::AppState;
use crate::batch::Failed;
use crate::contract::IngestCounts;
use alphadome_service::body::{self, BodyError};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Meta sends at most 3 MB; docs/design.md answers 413 above 4 MiB.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

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
    receive(&state, started, &headers, body, secret.as_bytes(), None).await
}

pub async fn receive_tenant(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // An unknown slug, or a tenant without an app secret, is checked against a secret nobody
    // has: it reads the body and answers 401 like any bad signature.
    let route = state.routes.get(&slug);
    let (secret, tenant) = match route.as_deref() {
        Some(super::routes::Route {
            app_secret: Some(secret),
            tenant_id,
            ..
        }) => (secret.expose().as_bytes().to_vec(), Some(tenant_id.clone())),
        _ => (Vec::new(), None),
    };
    receive(&state, started, &headers, body, &secret, tenant).await
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

/// The body, within BODY_LIMIT and the body timeout; else the metric's result and the answer.
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, (&'static str, Response)> {
    body::read_body(body, BODY_LIMIT, timeout)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => (
                "too_large",
                (StatusCode::PAYLOAD_TOO_LARGE, "body over 4 MiB").into_response(),
            ),
            BodyError::Aborted => (
                "aborted",
                (StatusCode::BAD_REQUEST, "the body did not arrive whole").into_response(),
            ),
            BodyError::TimedOut => (
                "aborted",
                (
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
                    .into_response(),
            ),
        })
}

async fn receive(
    state: &AppState,
    started: Instant,
    headers: &HeaderMap,
    body: Body,
    secret: &[u8],
    route: Option<String>,
) -> Response {
    let bytes = match read_body(body, state.body_timeout).await {
        Ok(bytes) => bytes,
        Err((result, response)) => return answer(state, started, result, response),
    };
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if secret.is_empty() || !signature::valid(secret, &bytes, header) {
        tracing::warn!(
            route = if route.is_some() { "tenant" } else { "shared" },
            "webhook with a missing or bad signature refused"
        );
        let response = (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        return answer(state, started, "unauthorized", response);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let response = (StatusCode::BAD_REQUEST, "body is not UTF-8").into_response();
        return answer(state, started, "malformed", response);
    };
    let ingest_started = Instant::now();
    // Committed with the webhooks that arrive at the same time; answered after the commit.
    let result = state
        .ingest
        .call(vec![Box::new(text.to_string()), Box::new(route)])
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
