//! Usage: the last 30 days of usage_daily, drawn.
use crate::app::App;
use crate::html;
use crate::session::Session;
use crate::svg::stacked_bars;
use crate::who::Who;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The last 30 days (in the tenant's time zone), each with its usage or zeros.
const DAYS: &str = "
    SELECT d::date::text,
           coalesce(u.faq_answers, 0), coalesce(u.llm_answers, 0), coalesce(u.fallbacks, 0),
           coalesce(u.escalations, 0), coalesce(u.not_answered, 0),
           coalesce(u.prompt_tokens, 0), coalesce(u.completion_tokens, 0),
           coalesce(u.messages_sent, 0), coalesce(u.llm_calls, 0), coalesce(u.transcriptions, 0),
           coalesce(u.priced_service, 0), coalesce(u.priced_utility + u.priced_marketing + u.priced_authentication, 0),
           coalesce(u.alerts, 0), coalesce(u.inbound_messages, 0)
      FROM alphadome.bot_control_settings s
     CROSS JOIN LATERAL generate_series((now() AT TIME ZONE s.timezone)::date - 29, (now() AT TIME ZONE s.timezone)::date, interval '1 day') d
      LEFT JOIN alphadome.usage_daily u ON u.bot_tenant_id = s.bot_tenant_id AND u.day = d::date
     WHERE s.bot_tenant_id = $1
     ORDER BY d";

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
        let rows = tx.query(DAYS, &[&tenant]).await?;
        let days: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let column = |i: usize| rows.iter().map(|r| r.get::<_, i64>(i)).collect::<Vec<i64>>();
        let total = |i: usize| column(i).iter().sum::<i64>();
        Ok(html::page(
            "Usage, last 30 days",
            who,
            html! {
                table.totals { tbody {
                    tr { th { "Messages from customers" } td.num { (total(14)) } }
                    tr { th { "Answered from the FAQ" } td.num { (total(1)) } }
                    tr { th { "Answered by the AI" } td.num { (total(2)) } }
                    tr { th { "AI calls" } td.num { (total(9)) } }
                    tr { th { "AI tokens (prompt + completion)" } td.num { (total(6)) " + " (total(7)) } }
                    tr { th { "Voice notes transcribed" } td.num { (total(10)) } }
                    tr { th { "Messages sent" } td.num { (total(8)) } }
                    tr { th { "Alerts" } td.num { (total(13)) } }
                } }
                (stacked_bars("Messages from customers, by what answered them", &days, &[
                    ("FAQ", "faq", column(1)), ("AI", "llm", column(2)), ("fallback", "fallback", column(3)),
                    ("to a person", "escalated", column(4)), ("not answered", "silent", column(5)),
                ]))
                (stacked_bars("AI tokens", &days, &[("prompt", "prompt", column(6)), ("completion", "completion", column(7))]))
                (stacked_bars("Messages sent, by Meta's pricing", &days, &[
                    ("service", "service", column(11)), ("utility, marketing, authentication", "paid", column(12)),
                ]))
            },
        ))
    })
    .await
}
