//! The HTTP side: Meta's webhooks and /healthz on the public listener; /readyz and /metrics
//! on the admin listener, which only the operator's network reaches (docs/design.md section 5).
mod mpesa;
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
    /// Largest webhook body (413 above it).
    pub body_limit: usize,
    /// Large stretches of bodies hashed at once on the blocking pool.
    pub hashing: tokio::sync::Semaphore,
    /// The key a route without an app secret is hashed under: random, known to nobody.
    pub dummy_key: Vec<u8>,
    /// A large body was read since the allocator was last asked to hand memory back.
    pub large_body_seen: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Hashing permits: half the processors (at least one), so hashing never takes them all.
    pub fn hashing_permits() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }
}

/// The public listener's routes: the webhooks, M-Pesa's callbacks and /healthz; any other path is answered 404 at
/// once, its body unread.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.body_limit;
    let routes = Router::new()
        .route(
            "/webhook",
            get(webhook::verify_shared).post(webhook::receive_shared),
        )
        .route(
            "/webhook/{slug}",
            get(webhook::verify_tenant).post(webhook::receive_tenant),
        )
        .route(
            "/mpesa/{slug}/{token}",
            axum::routing::post(mpesa::callback),
        )
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { webhook::refused_unread(StatusCode::NOT_FOUND, "not found") })
        .with_state(state);
    protect(
        routes,
        Protection {
            body_limit,
            // The webhook handlers read bodies themselves, to count what they refuse.
            body_timeout: None,
            request_timeout: REQUEST_TIMEOUT,
            content_security_policy: NO_CONTENT_POLICY,
        },
    )
}

/// The admin listener's routes (ALPHADOME_ADMIN_LISTEN): readiness and metrics.
pub fn admin_router(state: Arc<AppState>) -> Router {
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(state);
    protect(
        routes,
        Protection {
            body_limit: 0,
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
    state.metrics.refresh_tenants(&state.pool).await;
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}
