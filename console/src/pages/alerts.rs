//! Alerts: what the bot told a person, in plain words, where it went, the conversation it is
//! about, and a "Done" button (an owner's; the operator's across tenants).
use crate::app::App;
use crate::error::AppError;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

/// Every alert's columns as the list shows them: id, when, kind, status, channel, text, tenant,
/// conversation, where it went, done, when it will go (if later), why it failed. `$1`: only
/// those still to look at (not done, and waiting or failed); `$2`: only this one (NULL: all).
pub const ALERTS: &str = "
    SELECT a.id, to_char(a.created_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'), a.kind, a.status,
           coalesce(a.channel, ''), a.text, t.slug, a.conversation_id, coalesce(a.sent_to, '{}'),
           a.done_at IS NOT NULL,
           CASE WHEN a.due_at > now() THEN to_char(a.due_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI') END,
           coalesce(a.last_error ->> 'message', '')
      FROM alphadome.alerts a
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
      JOIN alphadome.bot_tenants t ON t.id = a.bot_tenant_id
     WHERE (NOT $1 OR (a.done_at IS NULL AND a.status IN ('queued', 'failed')))
       AND ($2::bigint IS NULL OR a.id = $2)
     ORDER BY a.done_at IS NOT NULL, a.created_at DESC, a.id DESC LIMIT 200";

/// What an alert is about, as the owner says it.
fn what(kind: &str) -> &'static str {
    match kind {
        "handoff" => "A customer asked for a person",
        "handoff_reminder" => "A customer is still waiting for a person",
        "handoff_timeout" => "Nobody answered a customer in time: the bot answers them again",
        "no_answer" => "The bot could not answer a customer",
        "rate_limit" => "The bot reached its hourly reply limit",
        "credentials" => "The shop's WhatsApp access needs renewing",
        "token_refused" => "WhatsApp refused the shop's access",
        "llm_failed" => "The AI could not answer",
        "media_failed" => "A photo or voice note could not be read",
        "key_unavailable" => "The bot could not read its keys: replies paused",
        "weekly_summary" => "Your week: the figures and the questions the FAQ did not answer",
        _ => "Something needs you",
    }
}

/// How an alert went, in words: by what and to whom.
fn how(channel: &str, sent_to: &[String]) -> String {
    let by: Vec<&str> = channel
        .split('+')
        .filter_map(|c| match c {
            "whatsapp_text" => Some("WhatsApp"),
            "whatsapp_template" => Some("WhatsApp (your approved template)"),
            "email" => Some("email"),
            _ => None,
        })
        .collect();
    let mut said = String::new();
    if !by.is_empty() {
        said.push_str(&format!("by {}", by.join(" and ")));
    }
    if !sent_to.is_empty() {
        said.push_str(&format!(" to {}", sent_to.join(" and ")));
    }
    if channel.split('+').any(|c| c == "operator") {
        said.push_str(if said.is_empty() {
            "to your AlphaDome operator"
        } else {
            ", and to your AlphaDome operator"
        });
    }
    said.trim().to_string()
}

/// One alert as a card: what, when, what it said, what became of it, its conversation, "Done".
/// Why sending failed, in the relay's technical words, only where asked for (the operator, the
/// alert's own page).
fn card(who: &Who, r: &Row, with_tenant: bool, back: &str, technical: bool) -> Markup {
    let id: i64 = r.get(0);
    let status: String = r.get(3);
    let done: bool = r.get(9);
    let sent_to: Vec<String> = r.get(8);
    let fate = match status.as_str() {
        "sent" => format!("Sent {}.", how(&r.get::<_, String>(4), &sent_to)),
        // Where it would have gone, as a sent one says where it went.
        "simulated" => match how(&r.get::<_, String>(4), &sent_to) {
            would if would.is_empty() => {
                "Not really sent: the bot runs in test mode, nothing leaves the computer.".to_string()
            }
            would => format!("Not really sent: it would have gone {would}, but the bot runs in test mode and nothing leaves the computer."),
        },
        "failed" => "Could not be sent. Tell your AlphaDome operator.".to_string(),
        "cancelled" if done => "Not sent: marked done before it went.".to_string(),
        "cancelled" => "Not sent: someone answered the customer before it went.".to_string(),
        _ => match r.get::<_, Option<String>>(10) {
            Some(later) => format!("Will be sent {later}, when the shop opens."),
            None => "Being sent.".to_string(),
        },
    };
    html! {
        li class=(format!("alert {status}{}", if done { " done" } else { "" })) {
            p.what { strong { (what(&r.get::<_, String>(2))) } " " small { (r.get::<_, String>(1)) } @if with_tenant { " · " (r.get::<_, String>(6)) } }
            p.said { (r.get::<_, String>(5)) }
            p class=(format!("fate {status}")) { (fate) }
            @if status == "failed" && technical { p.hint { "What the system said: " (r.get::<_, String>(11)) } }
            div.actions {
                @if let Some(conversation) = r.get::<_, Option<i64>>(7) {
                    @if !who.operator { a.button href=(format!("/conversations/{conversation}")) { "Open the conversation" } }
                }
                a href=(format!("/alerts/{id}")) { "Details" }
                @if done { span.tag { "Done" } } @else {
                    form method="post" action=(format!("/alerts/{id}/done")) {
                        (html::csrf(who))
                        input type="hidden" name="back" value=(back);
                        button.secondary type="submit" { "Done" }
                    }
                }
            }
        }
    }
}

/// A list of alerts as cards (the alerts pages, the overview).
pub fn list(who: &Who, rows: &[Row], with_tenant: bool, back: &str) -> Markup {
    html! {
        @if rows.is_empty() { p { "No alerts." } } @else {
            ul.alerts { @for r in rows { (card(who, r, with_tenant, back, who.operator)) } }
        }
    }
}

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let rows = tx.query(ALERTS, &[&false, &None::<i64>]).await?;
            Ok(html::page(
                "Alerts",
                who,
                list(who, &rows, false, "/alerts"),
            ))
        },
    )
    .await
}

pub async fn operator_page(State(app): State<App>, session: Session) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, who: &Who| {
        let rows = tx.query(ALERTS, &[&false, &None::<i64>]).await?;
        Ok(html::page(
            "Alerts, every tenant",
            who,
            list(who, &rows, true, "/operator/alerts"),
        ))
    })
    .await
}

/// One alert: its card, when it was raised and sent, and how often sending was tried.
pub async fn one(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.run(&session, async |tx: &Transaction<'_>, who: &Who| {
        if who.agent {
            return Err(AppError::NotFound);
        }
        let rows = tx.query(ALERTS, &[&false, &Some(id)]).await?;
        let r = rows.first().ok_or(AppError::NotFound)?;
        let facts = tx
            .query_one(
                "SELECT a.attempts, coalesce(to_char(a.sent_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'), '')
                   FROM alphadome.alerts a JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
                  WHERE a.id = $1",
                &[&id],
            )
            .await?;
        let back = if who.operator { "/operator/alerts" } else { "/alerts" };
        Ok(html::page(
            "Alert",
            who,
            html! {
                ul.alerts { (card(who, r, who.operator, back, true)) }
                p.hint {
                    @let sent: String = facts.get(1);
                    @if !sent.is_empty() { "Sent at " (sent) ". " }
                    @let tries: i32 = facts.get(0);
                    @if tries == 0 { "Not sent yet." }
                    @else if tries == 1 { "Sent on the first try." }
                    @else { "It took " (tries) " tries." }
                }
                p { a href=(back) { "All alerts" } }
            },
        ))
    })
    .await
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    back: String,
}

/// "Done": the alert is marked done (it leaves the overview) and, if it has not gone yet, it
/// never will; then back to the page it was on.
pub async fn done(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<Done>,
) -> Response {
    app.run(&session, async |tx: &Transaction<'_>, who: &Who| {
        if who.agent {
            return Err(AppError::NotFound);
        }
        // Marked done, and cancelled when it has not gone yet (P0002: not this owner's alert).
        tx.query_one("SELECT alphadome.alert_done($1)", &[&id])
            .await
            .map_err(|e| match e.code() {
                Some(&tokio_postgres::error::SqlState::NO_DATA_FOUND) => AppError::NotFound,
                _ => AppError::from(e),
            })?;
        // Only back to one of our pages.
        let back = match form.back.as_str() {
            "/" | "/operator/alerts" => form.back.as_str(),
            _ => "/alerts",
        };
        Ok(Redirect::to(back).into_response())
    })
    .await
}
