//! What a request can end in besides its page. A database error's details go to the log (they
//! never carry a secret), not to the browser; an error a person can fix is said on the form.
use crate::html;
use alphadome_service::database::describe;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Debug)]
pub enum AppError {
    /// No such row for this account (another tenant's id looks exactly like a missing one).
    NotFound,
    /// A POST without the session's CSRF token, or from another site.
    Forbidden,
    /// No session, or an ended one: to the login page.
    LoggedOut,
    Database(tokio_postgres::Error),
    Pool(String),
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> AppError {
        AppError::Database(e)
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(e: deadpool_postgres::PoolError) -> AppError {
        AppError::Pool(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, html::bare("Not found", "There is no such page here.")).into_response(),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                html::bare("Forbidden", "This form has expired or did not come from this console. Go back, reload the page and try again."),
            )
                .into_response(),
            AppError::LoggedOut => Redirect::to("/login").into_response(),
            AppError::Database(e) => {
                tracing::error!(error = describe(&e), "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, html::bare("Something went wrong", "The database could not do this. Try again; if it keeps failing, tell the operator.")).into_response()
            }
            AppError::Pool(e) => {
                tracing::error!(error = e, "no database connection");
                (StatusCode::SERVICE_UNAVAILABLE, html::bare("Unavailable", "The database cannot be reached. Try again in a minute.")).into_response()
            }
        }
    }
}

/// The message of an error a person can fix (a value refused by its check: 22xxx, 23xxx,
/// 28P01, P0002), or None for anything else.
pub fn user_error(e: &tokio_postgres::Error) -> Option<String> {
    let db = e.as_db_error()?;
    let code = db.code().code();
    // 55000: not possible in this state (a shop without its WhatsApp Business account id).
    (code.starts_with("22") || code.starts_with("23") || ["28P01", "P0002", "55000"].contains(&code))
        .then(|| db.message().to_string())
}
