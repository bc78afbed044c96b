//! The anchor of make bench's relay rows: a webhook receiver built the way most WhatsApp bots
//! are. The same HTTP stack as the relay (axum on tokio, the same pool and driver), the same
//! X-Hub-Signature-256 check, then one INSERT of the raw body and a NOTIFY per webhook in one
//! statement, and nothing else: no routing, no dedupe, no decision, no job.
//! Usage: DATABASE_URL=... META_APP_SECRET=... naive-receiver; prints the port it listens on.
use alphadome_service::database::DatabaseArgs;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::sync::Arc;

/// One connection per poster of the bench: the receiver never waits for a connection.
const POOL_SIZE: usize = 16;

struct Receiver {
    pool: deadpool_postgres::Pool,
    secret: Vec<u8>,
}

/// 200 once the row is committed; 401 for a bad signature, 503 when the database refused.
async fn webhook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let Some(expected) = header
        .and_then(|h| h.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return StatusCode::UNAUTHORIZED;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&r.secret).expect("HMAC takes keys of any length");
    mac.update(&body);
    if mac.verify_slice(&expected).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let Ok(client) = r.pool.get().await else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let Ok(insert) = client
        .prepare_cached(
            "WITH e AS (INSERT INTO naive_events (payload) VALUES ($1::text::jsonb))
             SELECT pg_notify('naive_events', '')",
        )
        .await
    else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    match client.execute(&insert, &[&text]).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() {
    let database = DatabaseArgs {
        database_url: std::env::var("DATABASE_URL").expect("DATABASE_URL"),
        database_ca_file: None,
    };
    let receiver = Arc::new(Receiver {
        pool: database.pool("naive-receiver", POOL_SIZE).expect("a pool"),
        secret: std::env::var("META_APP_SECRET")
            .expect("META_APP_SECRET")
            .into_bytes(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let app = axum::Router::new()
        .route("/webhook", post(webhook))
        .with_state(receiver);
    axum::serve(listener, app).await.unwrap();
}
