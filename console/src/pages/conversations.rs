//! The shop's conversations: who wrote, and each thread with what the bot decided and how its
//! replies fared; a person can take a conversation over (the bot then stays silent in it).
use crate::app::App;
use crate::error::AppError;
use crate::forms::Paging;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

const PER_PAGE: i64 = 50;

pub async fn page(
    State(app): State<App>,
    session: Session,
    Query(paging): Query<Paging>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
        let total: i64 = tx.query_one("SELECT count(*) FROM alphadome.conversations", &[]).await?.get(0);
        let rows = tx
            .query(
                "SELECT c.id, coalesce(c.customer_name, ''), c.customer_key,
                        coalesce(to_char(c.last_inbound_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), ''),
                        c.handoff_at IS NOT NULL, c.opted_out_at IS NOT NULL
                   FROM alphadome.conversations c JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = c.bot_tenant_id
                  ORDER BY c.last_inbound_at DESC NULLS LAST, c.id DESC LIMIT $1 OFFSET $2",
                &[&PER_PAGE, &paging.offset(PER_PAGE)],
            )
            .await?;
        let pages = (total + PER_PAGE - 1) / PER_PAGE;
        Ok(html::page(
            "Conversations",
            who,
            html! {
                p { (total) " customers." }
                table.conversations {
                    thead { tr { th { "Customer" } th { "Number" } th { "Last message" } th { "" } } }
                    tbody { @for r in &rows {
                        tr {
                            td { a href=(format!("/conversations/{}", r.get::<_, i64>(0))) { @let n: String = r.get(1); @if n.is_empty() { "(no name)" } @else { (n) } } }
                            td { "+" (r.get::<_, String>(2)) }
                            td { (r.get::<_, String>(3)) }
                            td { @if r.get::<_, bool>(4) { "a person has it" } @if r.get::<_, bool>(5) { " opted out" } }
                        }
                    } }
                }
                @if pages > 1 {
                    p.pages { @for p in 0..pages.min(200) { @if p == paging.page { strong { (p + 1) } } @else { a href=(format!("/conversations?page={p}")) { (p + 1) } } " " } }
                }
            },
        ))
    })
    .await
}

pub async fn thread(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
        let c = tx
            .query_opt(
                "SELECT coalesce(c.customer_name, ''), c.customer_key, c.handoff_at IS NOT NULL, c.opted_out_at IS NOT NULL
                   FROM alphadome.conversations c WHERE c.id = $1",
                &[&id],
            )
            .await?
            .ok_or(AppError::NotFound)?;
        let messages = tx
            .query(
                "SELECT m.direction::text, coalesce(m.body, m.transcript, '(' || m.message_type || ')'), m.decision::text,
                        m.status, to_char(m.created_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), m.transcript IS NOT NULL
                   FROM alphadome.messages m JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = m.bot_tenant_id
                  WHERE m.conversation_id = $1
                  ORDER BY m.created_at, m.id
                  LIMIT 500",
                &[&id],
            )
            .await?;
        let (name, number, taken, opted_out): (String, String, bool, bool) = (c.get(0), c.get(1), c.get(2), c.get(3));
        Ok(html::page(
            &format!("{} +{number}", if name.is_empty() { "Customer" } else { &name }),
            who,
            html! {
                form.handoff method="post" action=(format!("/conversations/{id}/handoff")) {
                    (html::csrf(who))
                    input type="hidden" name="take" value=(if taken { "false" } else { "true" });
                    @if taken { p { "A person has taken this conversation over: the bot stays silent." } button type="submit" { "Give it back to the bot" } }
                    @else { p { "The bot answers this customer." } button type="submit" { "Take it over" } }
                }
                @if opted_out { p.notice { "This customer opted out: the bot sends nothing until they write START." } }
                ol.thread { @for m in &messages {
                    @let outbound = m.get::<_, String>(0) == "outbound";
                    li class=(if outbound { "out" } else { "in" }) {
                        div.text { (m.get::<_, String>(1)) @if m.get::<_, bool>(5) { " " small { "(voice note)" } } }
                        div.meta {
                            (m.get::<_, String>(4)) " · "
                            @if outbound { (m.get::<_, String>(3)) } @else { (html::decision(m.get::<_, Option<&str>>(2))) }
                        }
                    }
                } }
            },
        ))
    })
    .await
}

#[derive(Deserialize)]
pub struct Handoff {
    take: String,
}

pub async fn handoff(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<Handoff>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, _: Uuid| {
        let take = form.take == "true";
        let changed = tx
            .execute(
                "UPDATE alphadome.conversations SET handoff_at = CASE WHEN $1 THEN now() END WHERE id = $2",
                &[&take, &id],
            )
            .await?;
        match changed {
            0 => Err(AppError::NotFound),
            _ => Ok(Redirect::to(&format!("/conversations/{id}")).into_response()),
        }
    })
    .await
}
