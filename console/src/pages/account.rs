//! Logging in and out, and changing one's password.
use crate::app::{attempt, App};
use crate::error::{user_error, AppError};
use crate::forms::Nothing;
use crate::html;
use crate::session::{cookie, same_origin, Posted, Session};
use crate::who::Who;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, DOCTYPE};
use serde::Deserialize;
use std::net::SocketAddr;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// Where a login may go on to: a page of this console (a path of ours, never "//host" or
/// "/\\host", which a browser reads as another site), else nowhere (the overview).
pub fn then_path(then: &str) -> Option<&str> {
    let ours = then.starts_with('/')
        && !then.starts_with("//")
        && !then.starts_with("/\\")
        && !then.starts_with("/login")
        && then.len() <= 2000
        && !then.chars().any(|c| c.is_control());
    ours.then_some(then)
}

fn login_form(message: Option<&str>, ok: bool, then: Option<&str>) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (html::head("Log in"))
                body { main.narrow {
                    h1 { "AlphaDome console" }
                    (html::notice(message, ok))
                    form method="post" action="/login" {
                        @if let Some(then) = then.and_then(then_path) { input type="hidden" name="then" value=(then); }
                        label { "Email" input type="email" name="email" autocomplete="username" required; }
                        label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                        button type="submit" { "Log in" }
                    }
                    p { a href="/forgot" { "Forgot your password?" } }
                } }
            }
        }
        .into_string(),
    )
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    reset: Option<String>,
    /// The page to go on to (back_after_login in router.rs).
    #[serde(default)]
    then: Option<String>,
}

pub async fn login_page(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Response {
    let message = q
        .reset
        .is_some()
        .then_some("Your new password is set, and every other place you were logged in is logged out. Log in with it.");
    login_form(message, true, q.then.as_deref()).into_response()
}

/// What a wrong password is told: with a warning when few tries are left before logins with
/// this email (or from this address) are paused (console.sql's throttle: 5 and 20 in 15 minutes).
fn wrong_password(tries_left: i32) -> String {
    match tries_left {
        0 => {
            "Wrong email or password. That was the last try: logging in is paused for 15 minutes. \
              If you forgot your password, ask for a link to choose a new one."
                .to_string()
        }
        1 => "Wrong email or password. One more wrong try and logging in is paused for 15 minutes."
            .to_string(),
        2 => {
            "Wrong email or password. Two more wrong tries and logging in is paused for 15 minutes."
                .to_string()
        }
        _ => "Wrong email or password.".to_string(),
    }
}

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
    #[serde(default)]
    then: Option<String>,
}

/// console_login records a failure before it answers, so its transaction is committed
/// whatever the outcome.
pub async fn login(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Result<Response, AppError> {
    if !same_origin(&headers, app.secure_cookies) {
        return Err(AppError::Forbidden);
    }
    let mut connection = app.pool.get().await?;
    let tx = connection.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
    let address = client.ip().to_string();
    let row = tx
        .query_one(
            "SELECT outcome, session_token, retry_after_seconds FROM alphadome.console_login($1, $2, $3)",
            &[&form.email, &form.password, &address],
        )
        .await?;
    tx.commit().await?;
    let (outcome, token, wait): (String, Option<String>, Option<i32>) =
        (row.get(0), row.get(1), row.get(2));
    Ok(match (outcome.as_str(), token) {
        ("ok", Some(token)) => (
            [(header::SET_COOKIE, cookie(Some(&token), app.secure_cookies))],
            Redirect::to(form.then.as_deref().and_then(then_path).unwrap_or("/")),
        )
            .into_response(),
        ("throttled", _) => {
            let minutes = (wait.unwrap_or(900) + 59) / 60;
            let message = format!("Too many failed logins. Try again in {minutes} minutes.");
            let retry = wait.unwrap_or(900).to_string();
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry)],
                login_form(Some(&message), false, form.then.as_deref()),
            )
                .into_response()
        }
        _ => {
            let tx = connection.transaction().await?;
            tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
            let left: i32 = tx
                .query_one(
                    "SELECT alphadome.console_login_tries_left($1, $2)",
                    &[&form.email, &address],
                )
                .await?
                .get(0);
            tx.commit().await?;
            (
                StatusCode::UNAUTHORIZED,
                login_form(Some(&wrong_password(left)), false, form.then.as_deref()),
            )
                .into_response()
        }
    })
}

pub async fn logout(
    State(app): State<App>,
    session: Session,
    Posted(_): Posted<Nothing>,
) -> Result<Response, AppError> {
    if let Some(token) = &session.0 {
        let mut connection = app.pool.get().await?;
        let tx = connection.transaction().await?;
        tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
        tx.execute("SELECT alphadome.console_logout($1)", &[token])
            .await?;
        tx.commit().await?;
    }
    Ok((
        [(header::SET_COOKIE, cookie(None, app.secure_cookies))],
        Redirect::to("/login"),
    )
        .into_response())
}

fn account_page(who: &Who, message: Option<&str>, ok: bool) -> Response {
    html::page(
        "Account",
        who,
        html! {
            p { "Logged in as " strong { (who.email) } "." }
            h2 { "Change your password" }
            (html::notice(message, ok))
            form method="post" action="/account" {
                (html::csrf(who))
                label { "Current password" input type="password" name="current" autocomplete="current-password" required; }
                label { "New password (10 to 72 characters, not a common one)" input type="password" name="new" autocomplete="new-password" minlength="10" maxlength="72" required; }
                label { "New password again" input type="password" name="repeat" autocomplete="new-password" required; }
                button type="submit" { "Change password" }
            }
            @if who.tenant.is_some() && !who.agent {
                h2 { "Staff logins" }
                p.hint { "A login for someone who helps you answer customers: they see the conversations and reply, and cannot change settings, the FAQ, templates or logins." }
                form method="post" action="/account/staff" {
                    (html::csrf(who))
                    label { "Their email" input type="email" name="email" autocomplete="off" required; }
                    label { "A password for them (at least 10 characters)" input type="password" name="password" autocomplete="new-password" minlength="10" required; }
                    button type="submit" { "Make the login" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct Staff {
    email: String,
    password: String,
}

/// The owner makes a login for his staff (create_agent).
pub async fn add_staff(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<Staff>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let made = attempt(
                tx,
                "SELECT alphadome.create_agent($1, $2, $3)",
                &[&tenant, &form.email, &form.password],
            )
            .await?;
            Ok(match made {
                Ok(_) => account_page(
                    who,
                    Some(&format!(
                        "{} can log in now and answer customers.",
                        form.email.trim()
                    )),
                    true,
                ),
                Err(message) => account_page(who, Some(&message), false),
            })
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

pub async fn page(
    State(app): State<App>,
    session: Session,
    query: axum::extract::Query<Done>,
) -> Response {
    let changed = query.done.is_some();
    app.run(&session, async |_: &Transaction<'_>, who: &Who| {
        Ok(account_page(
            who,
            changed.then_some("Your password was changed; your other sessions have ended."),
            true,
        ))
    })
    .await
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current: String,
    new: String,
    repeat: String,
}

/// A wrong current password is recorded and throttled like a failed login (the transaction is
/// committed with it); a refused new password is said on the form.
pub async fn change_password(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    session: Session,
    Posted(form): Posted<ChangePassword>,
) -> Response {
    let token = session.0.clone().unwrap_or_default();
    let address = client.ip().to_string();
    app.run(&session, async |tx: &Transaction<'_>, who: &Who| {
        if form.new != form.repeat {
            return Ok(account_page(
                who,
                Some("The two new passwords differ."),
                false,
            ));
        }
        // The session functions are alphadome_console's: back to it for this call.
        tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
        tx.batch_execute("SAVEPOINT change_password").await?;
        let changed = tx
            .query_one(
                "SELECT outcome, retry_after_seconds FROM alphadome.console_change_password($1, $2, $3, $4)",
                &[&token, &form.current, &form.new, &address],
            )
            .await;
        let row = match changed {
            Ok(row) => row,
            Err(e) => match user_error(&e) {
                Some(message) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT change_password").await?;
                    return Ok(account_page(who, Some(&message), false));
                }
                None => return Err(e.into()),
            },
        };
        let (outcome, wait): (String, Option<i32>) = (row.get(0), row.get(1));
        Ok(match outcome.as_str() {
            "changed" => Redirect::to("/account?done=1").into_response(),
            "throttled" => {
                let wait = wait.unwrap_or(900);
                let message = format!(
                    "Too many wrong passwords. Try again in {} minutes.",
                    (wait + 59) / 60
                );
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, wait.to_string())],
                    account_page(who, Some(&message), false),
                )
                    .into_response()
            }
            _ => account_page(who, Some("The current password is wrong."), false),
        })
    })
    .await
}
