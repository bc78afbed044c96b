//! Alerts: what the bot told a person, and whether it reached them (an owner's; the operator's
//! across tenants).
use crate::html;
use crate::server::App;
use crate::session::{Session, Who};
use axum::extract::State;
use axum::response::Response;
use maud::html;
use tokio_postgres::{Row, Transaction};

fn table(rows: &[Row], with_tenant: bool) -> maud::Markup {
    html! {
        @if rows.is_empty() { p { "No alerts." } } @else {
            table.alerts {
                thead { tr { th { "When" } @if with_tenant { th { "Tenant" } } th { "What" } th { "Status" } th { "By" } th { "Alert" } } }
                tbody { @for r in rows { tr {
                    td { (r.get::<_, String>(0)) }
                    @if with_tenant { td { (r.get::<_, String>(5)) } }
                    td { (r.get::<_, String>(1).replace('_', " ")) }
                    td class=(format!("status {}", r.get::<_, String>(2))) { (r.get::<_, String>(2)) }
                    td { (r.get::<_, Option<String>>(3).unwrap_or_default()) }
                    td { (r.get::<_, String>(4)) }
                } } }
            }
        }
    }
}

const ALERTS: &str = "
    SELECT to_char(a.created_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'), a.kind, a.status, a.channel, a.text, t.slug
      FROM alphadome.alerts a
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = a.bot_tenant_id
      JOIN alphadome.bot_tenants t ON t.id = a.bot_tenant_id
     ORDER BY a.created_at DESC, a.id DESC LIMIT 200";

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: &str| {
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
