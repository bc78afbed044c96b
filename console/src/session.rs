//! Sessions: a cookie holding the token console_login gave (the database keeps only its
//! sha256), a CSRF token derived from it, and the per-request transaction that starts as
//! alphadome_console, lets console_session() check the token and set the tenant context, then
//! acts as alphadome_tenant (an owner) or alphadome_admin (an operator).
use crate::error::AppError;
use crate::who::Who;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_postgres::Transaction;

pub const COOKIE_NAME: &str = "alphadome_session";

/// The session token of a request's cookie, if it has one.
pub struct Session(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Session, Self::Rejection> {
        Ok(Session(token(&parts.headers)))
    }
}

fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The CSRF token of a session: derived from its secret token, so a page from another site
/// cannot know it, and nothing more is stored.
pub fn csrf_for(session_token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"alphadome-console csrf\0");
    hash.update(session_token.as_bytes());
    hex::encode(hash.finalize())
}

/// The Set-Cookie of a new session (or, with None, of its end).
pub fn cookie(session_token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match session_token {
        Some(t) => {
            format!("{COOKIE_NAME}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}")
        }
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Starts a request's work: checks the session in the database, which sets the tenant context of
/// this transaction, then acts with the account's rights. None: no such session (any more).
pub async fn begin(tx: &Transaction<'_>, session_token: &str) -> Result<Option<Who>, AppError> {
    tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
    let row = tx
        .query_opt(
            "SELECT account_id, email, tenant_id, tenant_name, is_operator, is_agent FROM alphadome.console_session($1)",
            &[&session_token],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let who = Who {
        account: row.get(0),
        email: row.get(1),
        tenant: row.get(2),
        tenant_name: row.get(3),
        operator: row.get(4),
        agent: row.get(5),
        csrf: csrf_for(session_token),
    };
    let act_as = if who.operator {
        "SET LOCAL ROLE alphadome_admin"
    } else if who.agent {
        "SET LOCAL ROLE alphadome_agent"
    } else {
        "SET LOCAL ROLE alphadome_tenant"
    };
    tx.batch_execute(act_as).await?;
    Ok(Some(who))
}

/// A form posted with this session's CSRF token (field `csrf`) from this site: else 403.
pub struct Posted<T>(pub T);

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Posted<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Posted<T>, AppError> {
        if request.method() != Method::POST || !same_origin(request.headers()) {
            return Err(AppError::Forbidden);
        }
        let Some(session) = token(request.headers()) else {
            return Err(AppError::LoggedOut);
        };
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::Forbidden)?;
        let field: CsrfField =
            serde_urlencoded::from_bytes(&body).map_err(|_| AppError::Forbidden)?;
        if !bool::from(field.csrf.as_bytes().ct_eq(csrf_for(&session).as_bytes())) {
            return Err(AppError::Forbidden);
        }
        serde_urlencoded::from_bytes(&body)
            .map(Posted)
            .map_err(|_| AppError::Forbidden)
    }
}

/// A POST that names its origin must come from this host (browsers send Origin on POSTs).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others_and_only_when_well_formed() {
        let t = "a".repeat(64);
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("theme=dark; {COOKIE_NAME}={t}; x=y")
                .parse()
                .unwrap(),
        );
        assert_eq!(token(&headers).as_deref(), Some(t.as_str()));
        headers.insert(COOKIE, format!("{COOKIE_NAME}=../../etc").parse().unwrap());
        assert_eq!(token(&headers), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_cookies_say_secure_when_asked() {
        assert_ne!(csrf_for(&"a".repeat(64)), csrf_for(&"b".repeat(64)));
        assert_eq!(csrf_for("x").len(), 64);
        assert!(cookie(Some("t"), true).ends_with("; Secure"));
        assert!(cookie(Some("t"), false).contains("HttpOnly; SameSite=Strict"));
        assert!(cookie(None, false).contains("Max-Age=0"));
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:8081".parse().unwrap());
        assert!(
            same_origin(&headers),
            "no Origin: a form posted without one (curl)"
        );
        headers.insert(ORIGIN, "http://127.0.0.1:8081".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
