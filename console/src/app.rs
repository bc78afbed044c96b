//! The console's state and the one way a page reaches the database: a transaction for a
//! verified session (App::run), as an owner (App::owner) or the operator (App::operator), and
//! writes a person's input may make fail (attempt).
use crate::error::{user_error, AppError};
use crate::session::{begin, cookie, Session};
use crate::who::Who;
use alphadome_service::email::Mailer;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use deadpool_postgres::Pool;
use std::sync::Arc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

#[derive(Clone)]
pub struct App {
    pub pool: Pool,
    pub secure_cookies: bool,
    /// Password reset links go out through it (ALPHADOME_SMTP_URL); None: not configured.
    pub mailer: Option<Arc<Mailer>>,
    /// The console's address as people reach it, for links in emails (else the request's Host).
    pub public_url: Option<String>,
}

impl App {
    /// Runs a page's work for a logged-in account, in one transaction (committed when the work
    /// succeeds); without a session, the login page.
    pub async fn run(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who) -> Result<Response, AppError>,
    ) -> Response {
        self.try_run(session, work)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    }

    async fn try_run(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who) -> Result<Response, AppError>,
    ) -> Result<Response, AppError> {
        let Some(token) = &session.0 else {
            return Err(AppError::LoggedOut);
        };
        let mut connection = self.pool.get().await?;
        let tx = connection.transaction().await?;
        let Some(who) = begin(&tx, token).await? else {
            return Err(AppError::LoggedOut);
        };
        let mut response = work(&tx, &who).await?;
        tx.commit().await?;
        // The cookie lives as long as the session may idle, counted from this request.
        if let Ok(again) = HeaderValue::from_str(&cookie(Some(token), self.secure_cookies)) {
            response.headers_mut().append(header::SET_COOKIE, again);
        }
        Ok(response)
    }

    /// An owner's page, given the owner's tenant: the operator goes to his own pages instead,
    /// and the shop's staff may not see it (404, as for a page that is not theirs).
    pub async fn owner(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who, Uuid) -> Result<Response, AppError>,
    ) -> Response {
        self.run(session, async |tx: &Transaction<'_>, who: &Who| {
            match who.tenant {
                Some(_) if who.agent => Err(AppError::NotFound),
                Some(tenant) => work(tx, who, tenant).await,
                None => Ok(Redirect::to("/operator").into_response()),
            }
        })
        .await
    }

    /// A page of the shop's inbox: its owner and its staff.
    pub async fn inbox(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who, Uuid) -> Result<Response, AppError>,
    ) -> Response {
        self.run(session, async |tx: &Transaction<'_>, who: &Who| {
            match who.tenant {
                Some(tenant) => work(tx, who, tenant).await,
                None => Ok(Redirect::to("/operator").into_response()),
            }
        })
        .await
    }

    /// An operator's page: 404 for an owner.
    pub async fn operator(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who) -> Result<Response, AppError>,
    ) -> Response {
        self.run(session, async |tx: &Transaction<'_>, who: &Who| {
            if who.operator {
                work(tx, who).await
            } else {
                Err(AppError::NotFound)
            }
        })
        .await
    }
}

/// Runs a write that a person's input may make fail (a value its check refuses): inside a
/// savepoint, so the request can go on and say why. Ok(Err(message)) for such a failure.
pub async fn attempt(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Result<u64, String>, AppError> {
    within_savepoint(tx, tx.execute(sql, params)).await
}

/// attempt for a statement whose rows are wanted (INSERT ... RETURNING, a function's result).
pub async fn attempt_query(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Result<Vec<Row>, String>, AppError> {
    within_savepoint(tx, tx.query(sql, params)).await
}

async fn within_savepoint<T>(
    tx: &Transaction<'_>,
    work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<Result<T, String>, AppError> {
    tx.batch_execute("SAVEPOINT attempt").await?;
    match work.await {
        Ok(done) => {
            tx.batch_execute("RELEASE SAVEPOINT attempt").await?;
            Ok(Ok(done))
        }
        Err(e) => match user_error(&e) {
            Some(message) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT attempt").await?;
                Ok(Err(message))
            }
            None => Err(e.into()),
        },
    }
}
