//! The HTTP side: Meta's webhooks in, health and metrics out (docs/design.md section 5).
pub mod signature;
mod webhook;

use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct AppState {
    pub pool: Pool,
    pub metrics: Arc<Metrics>,
    pub shared_app_secret: Option<String>,
    pub shared_verify_token: Option<String>,
    /// Per-tenant app secrets by slug, decrypted (and audited) at most every few minutes.
    pub tenant_secrets: Mutex<HashMap<String, webhook::CachedSecret>>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/webhook",
            get(webhook::verify_shared).post(webhook::receive_shared),
        )
        .route(
            "/webhook/{slug}",
            get(webhook::verify_tenant).post(webhook::receive_tenant),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match state.pool.get().await {
        Ok(client) if client.simple_query("SELECT 1").await.is_ok() => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> String {
    state.metrics.render()
}
