//! Replay: last week's real messages decided again with today's FAQ and switches, to see what a
//! change does before customers do. Nothing is sent or recorded.
use crate::app::App;
use crate::html;
use crate::session::Session;
use crate::who::Who;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct Window {
    days: Option<i32>,
}

pub async fn page(State(app): State<App>, session: Session, Query(w): Query<Window>) -> Response {
    let days = w.days.unwrap_or(7).clamp(1, 90);
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
        let rows = tx
            .query(
                "SELECT to_char(r.received_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), r.message_type, coalesce(r.message, ''),
                        r.decision_then, r.answer_then, r.decision_now, r.answer_now, r.changed
                   FROM alphadome.replay(now() - make_interval(days => $1), now(), 200) r
                   JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = $2",
                &[&days, &tenant],
            )
            .await?;
        let changed = rows.iter().filter(|r| r.get::<_, bool>(7)).count();
        Ok(html::page(
            "Replay",
            who,
            html! {
                form method="get" action="/replay" {
                    label { "Messages of the last " input type="number" name="days" min="1" max="90" value=(days); " days" }
                    button type="submit" { "Replay" }
                }
                p { (rows.len()) " messages (at most 200) decided again with today's FAQ and settings: " strong { (changed) " would be answered differently" } ". Nothing was sent." }
                table.replay.cards {
                    thead { tr { th { "When" } th { "Customer wrote" } th { "Then" } th { "Now" } } }
                    tbody { @for r in &rows {
                        tr class=(if r.get::<_, bool>(7) { "changed" } else { "" }) {
                            td.lead { (r.get::<_, String>(0)) }
                            td data-label="Customer wrote" { (r.get::<_, String>(2)) @if r.get::<_, String>(1) != "text" { " " small { "(" (r.get::<_, String>(1)) ")" } } }
                            td data-label="Then" { em { (html::decision(r.get::<_, Option<&str>>(3))) } @if let Some(a) = r.get::<_, Option<String>>(4) { br; (a) } }
                            td data-label="Now" { em { (html::decision(Some(r.get::<_, &str>(5)))) } @if let Some(a) = r.get::<_, Option<String>>(6) { br; (a) } }
                        }
                    } }
                }
            },
        ))
    })
    .await
}
