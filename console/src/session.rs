//! Sessions: a cookie holding the token console_login gave (the database keeps only its
//! sha256), a CSRF token derived from it, and the per-request transaction that starts as
//! alphadome_console, lets console_session() check the token and set the tenant context, then
//! acts as alphadome_tenant (an owner) or alphadome_admin (an operator).
use crate::app::App;
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

/// The session cookie's name: with the __Host- prefix a browser takes it only from this host,
/// over https, for the whole site (a neighbour on another subdomain cannot plant one).
pub const COOKIE_NAME: &str = "__Host-alphadome_session";
/// Its name on plain http (ALPHADOME_CONSOLE_INSECURE_COOKIES), where __Host- is refused.
pub const INSECURE_COOKIE_NAME: &str = "alphadome_session";

/// A session ends after this long without a request (console.sql: console_session); the
/// cookie lives as long, and every page sends it again.
pub const SESSION_IDLE_SECONDS: u32 = 4 * 3600;

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        COOKIE_NAME
    } else {
        INSECURE_COOKIE_NAME
    }
}

/// The session token of a request's cookie, if it has one.
pub struct Session(pub Option<String>);

impl FromRequestParts<App> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Session, Self::Rejection> {
        Ok(Session(token(&parts.headers, app.secure_cookies)))
    }
}

fn token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = cookie_name(secure);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
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

/// The Set-Cookie of a session (or, with None, of its end): it lives as long as the session
/// may idle.
pub fn cookie(session_token: Option<&str>, secure: bool) -> String {
    let (name, flag) = (cookie_name(secure), if secure { "; Secure" } else { "" });
    let (value, max_age) = match session_token {
        Some(t) => (t, SESSION_IDLE_SECONDS),
        None => ("", 0),
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{flag}")
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

impl<T: DeserializeOwned> FromRequest<App> for Posted<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, app: &App) -> Result<Posted<T>, AppError> {
        let secure = app.secure_cookies;
        if request.method() != Method::POST || !same_origin(request.headers(), secure) {
            return Err(AppError::Forbidden);
        }
        let Some(session) = token(request.headers(), secure) else {
            return Err(AppError::LoggedOut);
        };
        let body = axum::body::Bytes::from_request(request, app)
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

/// A POST that names its origin must come from this host, by the scheme the console is
/// served with (https unless plain http was asked for; browsers send Origin on POSTs).
pub fn same_origin(headers: &HeaderMap, secure: bool) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let scheme = if secure { "https" } else { "http" };
    origin
        .split_once("://")
        .is_some_and(|(given, rest)| given.eq_ignore_ascii_case(scheme) && rest == host)
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
        assert_eq!(token(&headers, true).as_deref(), Some(t.as_str()));
        // Served over https, the plain name is not ours: anyone on a sibling host could set it.
        headers.insert(
            COOKIE,
            format!("{INSECURE_COOKIE_NAME}={t}").parse().unwrap(),
        );
        assert_eq!(token(&headers, true), None);
        assert_eq!(token(&headers, false).as_deref(), Some(t.as_str()));
        headers.insert(COOKIE, format!("{COOKIE_NAME}=../../etc").parse().unwrap());
        assert_eq!(token(&headers, true), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_cookies_say_secure_when_asked() {
        assert_ne!(csrf_for(&"a".repeat(64)), csrf_for(&"b".repeat(64)));
        assert_eq!(csrf_for("x").len(), 64);
        let secure = cookie(Some("t"), true);
        assert!(
            secure.starts_with("__Host-alphadome_session=t; Path=/;"),
            "{secure}"
        );
        assert!(secure.ends_with("; Secure"), "{secure}");
        // As long as the session may idle (4 h), not the 24 h it may last at most.
        assert!(secure.contains("Max-Age=14400"), "{secure}");
        let plain = cookie(Some("t"), false);
        assert!(plain.starts_with("alphadome_session=t;") && !plain.contains("Secure"));
        assert!(plain.contains("HttpOnly; SameSite=Strict"));
        assert!(cookie(None, false).contains("Max-Age=0"));
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:8081".parse().unwrap());
        assert!(
            same_origin(&headers, true),
            "no Origin: a form posted without one (curl)"
        );
        headers.insert(ORIGIN, "http://127.0.0.1:8081".parse().unwrap());
        assert!(same_origin(&headers, false));
        // The same host by another scheme is another origin.
        assert!(!same_origin(&headers, true));
        headers.insert(ORIGIN, "https://127.0.0.1:8081".parse().unwrap());
        assert!(same_origin(&headers, true));
        assert!(!same_origin(&headers, false));
        headers.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers, true));
    }
}
