//! GET and POST /webhook (the shared Meta app) and /webhook/{slug} (a tenant's own app).
use super::{signature, AppState};
use crate::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Meta sends at most 3 MB; docs/design.md answers 413 above 4 MiB.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
const SECRET_TTL: Duration = Duration::from_secs(300);

pub struct CachedSecret {
    tenant_id: String,
    secret: String,
    fetched: Instant,
}

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    };
    challenge_reply(&query, verified)
}

pub async fn verify_tenant(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    Query(query): Query<Handshake>,
) -> Response {
    let Some(token) = &query.verify_token else {
        return challenge_reply(&query, false);
    };
    let Ok(client) = state.pool.get().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
    };
    match client
        .query_one(
            "SELECT alphadome.webhook_verify_token_matches($1, $2)",
            &[&slug, token],
        )
        .await
    {
        Ok(row) => challenge_reply(&query, row.get(0)),
        Err(e) => {
            tracing::error!(
                error = crate::db::describe(&e),
                slug,
                "verify token check failed"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

pub async fn receive_shared(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(secret) = state.shared_app_secret.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "no shared Meta app is configured (META_APP_SECRET)",
        )
            .into_response();
    };
    receive(&state, &headers, body, secret.as_bytes(), None).await
}

pub async fn receive_tenant(
    State(state): State<Arc<AppState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match tenant_secret(&state, &slug).await {
        Ok(Some((tenant_id, secret))) => {
            receive(&state, &headers, body, secret.as_bytes(), Some(tenant_id)).await
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "no such tenant, or it has no app secret",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                slug,
                "tenant app secret lookup failed"
            );
            unavailable(&state.metrics, "database unavailable")
        }
    }
}

/// 503 for a webhook that could not be recorded: Meta retries it for up to 7 days, so nothing
/// that got no 200 is lost while the database is away.
fn unavailable(metrics: &Metrics, body: &'static str) -> Response {
    Metrics::add(&metrics.webhooks_unavailable, 1);
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// The tenant's id and app secret, from the cache or decrypted now (and audited).
async fn tenant_secret(state: &AppState, slug: &str) -> anyhow::Result<Option<(String, String)>> {
    if let Some(cached) = state.tenant_secrets.lock().await.get(slug) {
        if cached.fetched.elapsed() < SECRET_TTL {
            return Ok(Some((cached.tenant_id.clone(), cached.secret.clone())));
        }
    }
    let client = state.pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT t::text, alphadome.tenant_credential(t, 'app_secret', 'webhook signature check')
               FROM alphadome.tenant_for_slug($1) t WHERE t IS NOT NULL",
            &[&slug],
        )
        .await?
    else {
        return Ok(None);
    };
    let (tenant_id, secret): (String, Option<String>) = (row.get(0), row.get(1));
    let Some(secret) = secret else {
        return Ok(None);
    };
    state.tenant_secrets.lock().await.insert(
        slug.to_string(),
        CachedSecret {
            tenant_id: tenant_id.clone(),
            secret: secret.clone(),
            fetched: Instant::now(),
        },
    );
    Ok(Some((tenant_id, secret)))
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    secret: &[u8],
    route: Option<String>,
) -> Response {
    let metrics = &state.metrics;
    let bytes: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            Metrics::add(&metrics.webhooks_too_large, 1);
            return (StatusCode::PAYLOAD_TOO_LARGE, "body over 4 MiB").into_response();
        }
    };
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature::valid(secret, &bytes, header) {
        Metrics::add(&metrics.webhooks_unauthorized, 1);
        tracing::warn!(
            route = route.as_deref().unwrap_or("shared"),
            "webhook with a missing or bad signature refused"
        );
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        Metrics::add(&metrics.webhooks_malformed, 1);
        return (StatusCode::BAD_REQUEST, "body is not UTF-8").into_response();
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        Metrics::add(&metrics.webhooks_malformed, 1);
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    }
    let client = match state.pool.get().await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "database unavailable: answering 503 so Meta retries"
            );
            return unavailable(metrics, "database unavailable");
        }
    };
    // Prepared once per pooled connection: one round trip per webhook, and no parse.
    let result = match client
        .prepare_cached("SELECT alphadome.ingest_webhook($1::text::jsonb, $2::text::uuid)")
        .await
    {
        Ok(statement) => client.query_one(&statement, &[&text, &route]).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(row) => {
            let counts: serde_json::Value = row.get(0);
            let n = |k: &str| counts[k].as_u64().unwrap_or(0);
            Metrics::add(&metrics.webhooks_accepted, 1);
            Metrics::add(&metrics.messages_accepted, n("accepted"));
            Metrics::add(&metrics.messages_duplicate, n("duplicates"));
            tracing::info!(
                event_id = n("event_id"),
                accepted = n("accepted"),
                duplicates = n("duplicates"),
                statuses = n("statuses"),
                ignored = n("ignored"),
                refused = n("refused"),
                jobs = n("jobs"),
                "webhook ingested"
            );
            (StatusCode::OK, axum::Json(counts)).into_response()
        }
        Err(e)
            if e.code()
                .is_some_and(|c| c.code() == "22023" || c.code() == "22P02") =>
        {
            Metrics::add(&metrics.webhooks_malformed, 1);
            tracing::warn!(error = crate::db::describe(&e), "webhook body refused");
            (StatusCode::BAD_REQUEST, "not a WhatsApp webhook").into_response()
        }
        Err(e) => {
            tracing::error!(
                error = crate::db::describe(&e),
                "ingest failed: answering 503 so Meta retries"
            );
            unavailable(metrics, "try again")
        }
    }
}
