//! The owner's first page: is the bot on, what came in today, what needs a person.
use crate::app::App;
use crate::error::AppError;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.inbox(&session, async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
        // The shop's staff have the inbox only.
        if who.agent {
            return Ok(Redirect::to("/conversations").into_response());
        }
        let waiting = tx.query_one(WAITING, &[]).await?;
        let (waiting, longest): (i64, Option<i32>) = (waiting.get(0), waiting.get(1));
        let switches = tx
            .query_one(
                "SELECT is_bot_enabled, enable_ai_responses FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1",
                &[&tenant],
            )
            .await?;
        let (bot_on, ai_on): (bool, bool) = (switches.get(0), switches.get(1));
        let today = tx
            .query(
                "SELECT m.decision::text, count(*)
                   FROM alphadome.messages m, alphadome.bot_control_settings s
                  WHERE s.bot_tenant_id = m.bot_tenant_id AND m.direction = 'inbound'
                    AND m.created_at >= (date_trunc('day', now() AT TIME ZONE s.timezone) AT TIME ZONE s.timezone)
                  GROUP BY 1 ORDER BY 2 DESC, 1",
                &[],
            )
            .await?;
        let total: i64 = today.iter().map(|r| r.get::<_, i64>(1)).sum();
        let alerts = tx
            .query(crate::pages::alerts::ALERTS, &[&true, &None::<i64>])
            .await?;
        let health = crate::pages::health::section(tx, tenant).await?;
        // Money: this month's cost so far, one line (the usage page has the rest).
        let cost_so_far = crate::money::month_so_far(tx, tenant).await?;
        Ok(html::refreshing_page(
            "Overview",
            who,
            html! {
                @if waiting > 0 {
                    p.waiting {
                        a href="/conversations?state=waiting" {
                            strong { (waiting) (if waiting == 1 { " customer waiting" } else { " customers waiting" }) " for a person" }
                            @if let Some(minutes) = longest { ", longest " (crate::pages::conversations::minutes_words(minutes)) }
                        }
                    }
                } @else {
                    p { "Nobody is waiting for a person." }
                }
                section.switches {
                    (switch_form(who, "bot", "The bot", bot_on, "answers customers", "only records their messages"))
                    (switch_form(who, "ai", "The AI", ai_on, "it answers what the FAQ does not", "what the FAQ does not answer gets your no-answer reply (Settings)"))
                }
                (health)
                (cost_so_far)
                h2 { "Today" }
                p { (total) " messages from customers." }
                @if !today.is_empty() {
                    table { thead { tr { th { "What the bot did" } th.num { "Messages" } } }
                        tbody { @for row in &today { tr { td { (html::decision(row.get::<_, Option<&str>>(0))) } td.num { (row.get::<_, i64>(1)) } } } } }
                }
                h2 { "Alerts to look at" }
                (crate::pages::alerts::list(who, &alerts, false, "/"))
            },
            REFRESH_SECONDS,
        ))
    })
    .await
}

/// The overview reloads itself like the inbox (a new customer waiting shows without a tap).
const REFRESH_SECONDS: u32 = 30;

/// How many customers wait for a person, and the longest wait in minutes (NULL: none waits).
const WAITING: &str =
    "SELECT count(*), max(ceil(extract(epoch FROM now() - c.waiting_since) / 60))::int
                         FROM alphadome.conversations c WHERE c.waiting_since IS NOT NULL";

fn switch_form(
    who: &Who,
    name: &str,
    label: &str,
    on: bool,
    when_on: &str,
    when_off: &str,
) -> maud::Markup {
    html! {
        form.switch method="post" action="/switch" {
            (html::csrf(who))
            input type="hidden" name="switch" value=(name);
            input type="hidden" name="on" value=(if on { "false" } else { "true" });
            p { strong { (label) } " is " strong class=(if on { "state on" } else { "state off" }) { (if on { "on" } else { "off" }) } ": " (if on { when_on } else { when_off }) "." }
            @if on {
                button.turn-off type="submit" id=(format!("switch-{name}")) { "Turn off" }
            } @else {
                button.turn-on type="submit" id=(format!("switch-{name}")) { "Turn on" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct Switch {
    switch: String,
    on: String,
}

pub async fn switch(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<Switch>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, tenant: Uuid| {
        let on = form.on == "true";
        let sql = match form.switch.as_str() {
            "bot" => "UPDATE alphadome.bot_control_settings SET is_bot_enabled = $1 WHERE bot_tenant_id = $2",
            "ai" => "UPDATE alphadome.bot_control_settings SET enable_ai_responses = $1 WHERE bot_tenant_id = $2",
            _ => return Err(AppError::NotFound),
        };
        tx.execute(sql, &[&on, &tenant]).await?;
        Ok(Redirect::to("/").into_response())
    })
    .await
}
