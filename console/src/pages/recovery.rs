//! Getting back in: "Forgot password" (a reset link by email), the reset page, and the link the
//! operator sends an owner. The database makes and checks the links (console.sql: only a
//! token's sha256 is kept, a link works once for 30 minutes, requests are throttled); the
//! console emails them itself, through the SMTP server the relay's alerts use: a job for the
//! relay would keep the link's token in the queue's payload, readable in the database and its
//! backups for as long as jobs are kept. The link is built from ALPHADOME_CONSOLE_PUBLIC_URL,
//! never from the request's Host header (which whoever asks could set to their own site).
use crate::app::{attempt_query, App};
use crate::error::AppError;
use crate::html;
use crate::session::same_origin;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use std::net::SocketAddr;

/// A page for someone who is not logged in.
fn outside(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (html::head(title))
                body { main.narrow { h1 { (title) } (body) } }
            }
        }
        .into_string(),
    )
}

fn forgot_form(message: Option<&str>, ok: bool) -> Html<String> {
    outside(
        "Forgot your password?",
        html! {
            (html::notice(message, ok))
            p { "Give the email address you log in with. If it has a login, we email it a link to choose a new password." }
            form method="post" action="/forgot" {
                label { "Email" input type="email" name="email" autocomplete="username" required; }
                button type="submit" { "Email me a link" }
            }
            p { a href="/login" { "Back to logging in" } }
        },
    )
}

pub async fn forgot_page(State(app): State<App>) -> Response {
    if !app.can_send_links() {
        return forgot_unavailable().into_response();
    }
    forgot_form(None, true).into_response()
}

fn forgot_unavailable() -> Html<String> {
    outside(
        "Forgot your password?",
        html! {
            p { "This console cannot send emails. Ask the operator who set up your login: they can send you a link to choose a new password." }
            p { a href="/login" { "Back to logging in" } }
        },
    )
}

#[derive(Deserialize)]
pub struct Forgot {
    email: String,
}

/// The same answer whether or not the email has a login; the link is emailed after the page
/// is answered, so the time taken does not tell either.
pub async fn forgot(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Forgot>,
) -> Result<Response, AppError> {
    if !same_origin(&headers, app.secure_cookies) {
        return Err(AppError::Forbidden);
    }
    if !app.can_send_links() {
        return Ok(forgot_unavailable().into_response());
    }
    let mut connection = app.pool.get().await?;
    let tx = connection.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
    let row = tx
        .query_one(
            "SELECT outcome, reset_token, account_email FROM alphadome.console_request_password_reset($1, $2)",
            &[&form.email, &client.ip().to_string()],
        )
        .await?;
    tx.commit().await?;
    let (outcome, token, to): (String, Option<String>, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    if outcome == "throttled" {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            forgot_form(
                Some("Too many links were asked for. Try again in an hour, or ask the operator."),
                false,
            ),
        )
            .into_response());
    }
    if let (Some(token), Some(to)) = (token, to) {
        app.send_reset_link(to, token, Sender::Owner);
    }
    Ok(forgot_form(
        Some("If that address has a login, a link to choose a new password is on its way. It works once, for 30 minutes. Look in your spam folder too."),
        true,
    )
    .into_response())
}

/// Who asked for a link: the wording of its email.
pub enum Sender {
    Owner,
    Operator,
}

impl App {
    /// Links can be emailed: SMTP and the console's public address are both set.
    pub fn can_send_links(&self) -> bool {
        self.mailer.is_some()
            && self
                .public_url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty())
    }

    /// Emails a reset link, in the background: the request does not wait for the SMTP server.
    /// Neither the token nor the address is logged.
    pub fn send_reset_link(&self, to: String, token: String, by: Sender) {
        let (Some(mailer), Some(base)) = (self.mailer.clone(), self.public_url.clone()) else {
            return;
        };
        let link = format!("{}/reset?token={token}", base.trim().trim_end_matches('/'));
        let why = match by {
            Sender::Owner => "Someone, we hope you, asked for a new password for your AlphaDome console login.",
            Sender::Operator => "The AlphaDome operator sent you this link to choose a new password for your console login.",
        };
        let body = format!(
            "{why}\n\nOpen this link within 30 minutes to choose it (it works once):\n{link}\n\n\
             If you did not ask for it, ignore this email: your password stays as it is.\n"
        );
        tokio::spawn(async move {
            if let Err(e) = mailer
                .send(&to, "Choose a new password for AlphaDome", &body)
                .await
            {
                tracing::warn!(
                    error = e.message,
                    "a password reset link could not be emailed"
                );
            }
        });
    }
}

#[derive(Deserialize)]
pub struct Link {
    #[serde(default)]
    token: String,
}

fn reset_form(token: &str, message: Option<&str>) -> Html<String> {
    outside(
        "Choose a new password",
        html! {
            (html::notice(message, false))
            form method="post" action="/reset" {
                input type="hidden" name="token" value=(token);
                label { "New password (10 to 72 characters, not a common one)" input type="password" name="new" autocomplete="new-password" minlength="10" maxlength="72" required; }
                label { "New password again" input type="password" name="repeat" autocomplete="new-password" required; }
                button type="submit" { "Set the new password" }
            }
            p.hint { "Every place you are logged in is logged out when it is set." }
        },
    )
}

fn link_ended() -> Html<String> {
    outside(
        "This link does not work any more",
        html! {
            p { "A link works once, for 30 minutes, and a newer link ends the older ones." }
            p { a href="/forgot" { "Ask for a new link" } }
        },
    )
}

pub async fn reset_page(
    State(app): State<App>,
    Query(link): Query<Link>,
) -> Result<Response, AppError> {
    let mut connection = app.pool.get().await?;
    let tx = connection.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
    let works: bool = tx
        .query_one(
            "SELECT alphadome.console_reset_link_works($1)",
            &[&link.token],
        )
        .await?
        .get(0);
    tx.commit().await?;
    Ok(if works {
        reset_form(&link.token, None).into_response()
    } else {
        (StatusCode::NOT_FOUND, link_ended()).into_response()
    })
}

#[derive(Deserialize)]
pub struct NewPassword {
    #[serde(default)]
    token: String,
    new: String,
    repeat: String,
}

pub async fn reset(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<NewPassword>,
) -> Result<Response, AppError> {
    if !same_origin(&headers, app.secure_cookies) {
        return Err(AppError::Forbidden);
    }
    if form.new != form.repeat {
        return Ok(reset_form(
            &form.token,
            Some("The two new passwords differ: type the same one twice."),
        )
        .into_response());
    }
    let mut connection = app.pool.get().await?;
    let tx = connection.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE alphadome_console").await?;
    let done = attempt_query(
        &tx,
        "SELECT alphadome.console_reset_password($1, $2)",
        &[&form.token, &form.new],
    )
    .await?;
    tx.commit().await?;
    Ok(match done {
        Err(refused) => reset_form(
            &form.token,
            Some(&format!("That password cannot be used: {refused}.")),
        )
        .into_response(),
        Ok(rows) if rows.first().map(|r| r.get::<_, String>(0)).as_deref() == Some("changed") => {
            Redirect::to("/login?reset=done").into_response()
        }
        Ok(_) => (StatusCode::NOT_FOUND, link_ended()).into_response(),
    })
}
