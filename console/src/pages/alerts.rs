//! Alerts: what the bot told a person, and whether it reached them (an owner's; the operator's
//! across tenants).
use crate::app::App;
use crate::error::AppError;
use crate::html;
use crate::session::Session;
use crate::who::Who;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

fn table(rows: &[Row], with_tenant: bool) -> maud::Markup {
    html! {
        @if rows.is_empty() { p { "No alerts." } } @else {
            table.alerts.cards {
                thead { tr { th { "When" } @if with_tenant { th { "Tenant" } } th { "What" } th { "Status" } th { "By" } th { "Alert" } } }
                tbody { @for r in rows { tr {
                    td.lead { (r.get::<_, String>(0)) }
                    @if with_tenant { td data-label="Tenant" { (r.get::<_, String>(5)) } }
                    td data-label="What" { (r.get::<_, String>(1).replace('_', " ")) }
                    td data-label="Status" class=(format!("status {}", r.get::<_, String>(2))) { (r.get::<_, String>(2)) }
                    td data-label="By" { (r.get::<_, Option<String>>(3).unwrap_or_default()) }
                    td data-label="Alert" { a href=(format!("/alerts/{}", r.get::<_, i64>(6))) { (r.get::<_, String>(4)) } }
                } } }
            }
        }
    }
}

const ALERTS: &str = "
    SELECT to_char(a.created_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), a.kind, a.status, a.channel, a.text, t.slug, a.id
      FROM alphadome.alerts a
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
      JOIN alphadome.bot_tenants t ON t.id = a.bot_tenant_id
     ORDER BY a.created_at DESC, a.id DESC LIMIT 200";

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let rows = tx.query(ALERTS, &[]).await?;
            Ok(html::page("Alerts", who, table(&rows, false)))
        },
    )
    .await
}

pub async fn operator_page(State(app): State<App>, session: Session) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, who: &Who| {
        let rows = tx.query(ALERTS, &[]).await?;
        Ok(html::page("Alerts, every tenant", who, table(&rows, true)))
    })
    .await
}

/// One alert: what it said, when it was due and sent, its attempts and last error.
pub async fn one(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.run(&session, async |tx: &Transaction<'_>, who: &Who| {
        let r = tx
            .query_opt(
                "SELECT a.kind, a.text, a.status, coalesce(a.channel, ''), a.attempts,
                        to_char(a.created_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'),
                        to_char(a.due_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'),
                        coalesce(to_char(a.sent_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), ''),
                        coalesce(a.last_error ->> 'message', '')
                   FROM alphadome.alerts a JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
                  WHERE a.id = $1",
                &[&id],
            )
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(html::page(
            "Alert",
            who,
            html! {
                blockquote { (r.get::<_, String>(1)) }
                table { tbody {
                    tr { th { "What" } td { (r.get::<_, String>(0).replace('_', " ")) } }
                    tr { th { "Raised" } td { (r.get::<_, String>(5)) } }
                    tr { th { "Due" } td { (r.get::<_, String>(6)) } }
                    tr { th { "Status" } td { (r.get::<_, String>(2)) } }
                    tr { th { "Sent by" } td { (r.get::<_, String>(3)) " " (r.get::<_, String>(7)) } }
                    tr { th { "Attempts" } td { (r.get::<_, i32>(4)) } }
                    tr { th { "Last error" } td { (r.get::<_, String>(8)) } }
                } }
                p { a href=(if who.operator { "/operator/alerts" } else { "/alerts" }) { "All alerts" } }
            },
        ))
    })
    .await
}
