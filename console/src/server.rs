//! The HTTP server: routes, security headers, the stylesheet, and the one way a page reaches
//! the database (App::run: a transaction for a verified session).
use crate::config::ConsoleArgs;
use crate::error::AppError;
use crate::pages;
use crate::session::{begin, Session, Who};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;
use deadpool_postgres::Pool;
use std::net::SocketAddr;
use tokio_postgres::Transaction;

#[derive(Clone)]
pub struct App {
    pub pool: Pool,
    pub secure_cookies: bool,
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
        let response = work(&tx, &who).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// An owner's page: the operator goes to his own pages instead.
    pub async fn owner(
        &self,
        session: &Session,
        work: impl AsyncFnOnce(&Transaction<'_>, &Who, &str) -> Result<Response, AppError>,
    ) -> Response {
        self.run(session, async |tx: &Transaction<'_>, who: &Who| {
            match who.tenant.clone() {
                Some(tenant) => work(tx, who, &tenant).await,
                None => Ok(axum::response::Redirect::to("/operator").into_response()),
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
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Result<u64, String>, AppError> {
    tx.batch_execute("SAVEPOINT attempt").await?;
    match tx.execute(sql, params).await {
        Ok(n) => {
            tx.batch_execute("RELEASE SAVEPOINT attempt").await?;
            Ok(Ok(n))
        }
        Err(e) => match crate::db::user_error(&e) {
            Some(message) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT attempt").await?;
                Ok(Err(message))
            }
            None => Err(e.into()),
        },
    }
}

const STYLESHEET: &str = include_str!("../static/console.css");

/// Every response: no script may run but ours (there is none), no framing, no referrer to other
/// sites (same-origin: the browser still names this origin on our own forms, which the CSRF
/// check wants), no sniffing, no caching of pages that hold a shop's data.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

pub fn router(app: App) -> Router {
    let stylesheet = axum::routing::get(|| async {
        (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            STYLESHEET,
        )
    });
    pages::routes()
        .route("/static/console.css", stylesheet)
        .with_state(app)
        .layer(axum::middleware::map_response(security_headers))
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let app = App {
        pool: crate::db::pool(&args)?,
        secure_cookies: args.secure_cookies(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %args.listen, "alphadome-console serving");
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
