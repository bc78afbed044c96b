//! POST /mpesa/{slug}/{token}: M-Pesa's STK push callbacks (issue 24). Safaricom signs nothing,
//! so the token in the URL (random, per tenant, known to Safaricom through the push and to
//! nobody else) is what makes a callback the tenant's. SQL compares its sha256 with the stored
//! one and writes nothing for a stranger, who gets 404 like any unknown path; the tenant's
//! callback is answered {"ResultCode": 0, "ResultDesc": "Accepted"} once recorded. The path is
//! never logged (it holds the token: service's layers cut it).
use super::webhook::refused_unread;
use super::AppState;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::SocketAddr;
use std::sync::Arc;

/// A callback is a few hundred bytes.
const CALLBACK_LIMIT: usize = 64 * 1024;

/// A slug and token of the shapes set_mpesa_credentials makes (64 hex digits): anything else is
/// answered 404 unread, before the database is asked.
fn plausible(slug: &str, token: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && token.len() == 64
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path((slug, token)): Path<(String, String)>,
    request: Request,
) -> Response {
    // The sender, for the tenant's optional allow-list (service's server puts it there).
    let sender = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let body = request.into_body();
    if !plausible(&slug, &token) {
        return refused_unread(StatusCode::NOT_FOUND, "not found");
    }
    let Ok(bytes) = axum::body::to_bytes(body, CALLBACK_LIMIT).await else {
        return refused_unread(StatusCode::PAYLOAD_TOO_LARGE, "body over the limit");
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return (StatusCode::BAD_REQUEST, "not UTF-8").into_response();
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    }
    let known = async {
        let client = state.pool.get().await?;
        let row = client
            .query_one(
                "SELECT alphadome.mpesa_callback($1, $2, $3::text::jsonb, $4::text::inet)",
                &[&slug, &token, &text, &sender],
            )
            .await?;
        anyhow::Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
    }
    .await;
    match known {
        Ok(true) => {
            Json(serde_json::json!({"ResultCode": 0, "ResultDesc": "Accepted"})).into_response()
        }
        Ok(false) => (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "recording an M-Pesa callback failed"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plausible;

    #[test]
    fn only_a_slug_and_a_64_hex_token_reach_the_database() {
        let token = "ab".repeat(32);
        assert!(plausible("kassangas", &token));
        assert!(!plausible("kassangas", &token[1..]));
        assert!(!plausible("kassangas", &"zz".repeat(32)));
        assert!(!plausible("Kassangas", &token));
        assert!(!plausible("k", &token));
        assert!(!plausible("../etc", &token));
    }
}
