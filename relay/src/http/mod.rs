//! The HTTP side: Meta's webhooks in, health and metrics out (docs/design.md section 5).
pub mod routes;
pub mod signature;
mod webhook;

use crate::metrics::{self, Metrics};
use alphadome_service::layers::{protect, Protection, NO_CONTENT_POLICY};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;
use std::sync::Arc;
use std::time::Duration;

pub use webhook::BODY_LIMIT;

/// Longest a request may take, the ingest call included, before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct AppState {
    pub pool: Pool,
    /// Webhooks that arrive together are committed together (batch.rs).
    pub ingest: crate::batch::Batcher,
    pub metrics: Arc<Metrics>,
    pub shared_app_secret: Option<String>,
    pub shared_verify_token: Option<String>,
    pub routes: Arc<routes::TenantRoutes>,
    /// Time to receive a webhook's body.
    pub body_timeout: Duration,
}

pub fn router(state: Arc<AppState>) -> Router {
    let routes = Router::new()
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
        .route("/metrics", get(render_metrics))
        .with_state(state);
    protect(
        routes,
        Protection {
            body_limit: BODY_LIMIT,
            // The webhook handlers read bodies themselves, to count what they refuse.
            body_timeout: None,
            request_timeout: REQUEST_TIMEOUT,
            content_security_policy: NO_CONTENT_POLICY,
        },
    )
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match state.pool.get().await {
        Ok(client) if client.simple_query("SELECT 1").await.is_ok() => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}
