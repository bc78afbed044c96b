//! Usage: what the bot cost (usage_cost: per day, week and month, in the tenant's currency, with
//! the prices it used) and the last 30 days of usage_daily, drawn.
use crate::app::App;
use crate::html;
use crate::money::{amount, month_so_far};
use crate::session::Session;
use crate::svg::{stacked_amounts, stacked_bars};
use crate::who::Who;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The last 30 days (in the tenant's time zone), each with its usage or zeros, and whether it
/// is in this week (from Monday).
const DAYS: &str = "
    SELECT d::date::text,
           coalesce(u.faq_answers, 0), coalesce(u.llm_answers, 0), coalesce(u.fallbacks, 0),
           coalesce(u.escalations, 0), coalesce(u.not_answered, 0),
           coalesce(u.prompt_tokens, 0), coalesce(u.completion_tokens, 0),
           coalesce(u.messages_sent, 0), coalesce(u.llm_calls, 0), coalesce(u.transcriptions, 0),
           coalesce(u.priced_service, 0), coalesce(u.priced_utility + u.priced_marketing + u.priced_authentication, 0),
           coalesce(u.alerts, 0), coalesce(u.inbound_messages, 0),
           d::date >= date_trunc('week', now() AT TIME ZONE s.timezone)::date,
           coalesce(u.sales_answers, 0)
      FROM alphadome.bot_control_settings s
     CROSS JOIN LATERAL generate_series((now() AT TIME ZONE s.timezone)::date - 29, (now() AT TIME ZONE s.timezone)::date, interval '1 day') d
      LEFT JOIN alphadome.usage_daily u ON u.bot_tenant_id = s.bot_tenant_id AND u.day = d::date
     WHERE s.bot_tenant_id = $1
     ORDER BY d";

/// usage_cost per period, in cents: (start, WhatsApp, AI, total, messages Meta charged for).
const COSTS: &str = "
    SELECT to_char(u.period_start, $3), (u.whatsapp_cost * 100)::bigint, (u.ai_cost * 100)::bigint,
           (u.total_cost * 100)::bigint, u.paid_messages, u.currency
      FROM alphadome.bot_control_settings s,
           alphadome.usage_cost(s.bot_tenant_id, $2,
                                CASE $2 WHEN 'week' THEN date_trunc('week', now() AT TIME ZONE s.timezone)::date - 7 * 7
                                        WHEN 'month' THEN (date_trunc('month', now() AT TIME ZONE s.timezone) - interval '5 months')::date
                                        ELSE (now() AT TIME ZONE s.timezone)::date - 29 END) u
     WHERE s.bot_tenant_id = $1
     ORDER BY u.period_start DESC";

/// The prices usage_cost uses for this tenant, in words: Meta's for the tenant's own country,
/// the LLM's for its model, the exchange rate.
const PRICES: &str = "
    SELECT 'WhatsApp, ' || p.category || ' message (' || p.market || ')', p.currency || ' ' || p.price::float8::text,
           coalesce(p.note || '. ', '') || 'Since ' || p.effective_from || ', from ' || p.source
      FROM alphadome.bot_tenants t
      JOIN LATERAL (SELECT DISTINCT ON (w.category) w.* FROM alphadome.whatsapp_prices w
                     WHERE w.country_code = t.country_code AND w.effective_from <= current_date
                     ORDER BY w.category, w.effective_from DESC) p ON true
     WHERE t.id = $1
    UNION ALL
    SELECT 'AI (' || l.model || '), a million tokens in / out',
           l.currency || ' ' || l.input_per_million::float8::text || ' / ' || l.output_per_million::float8::text,
           'Since ' || l.effective_from || ', from ' || l.source
      FROM alphadome.bot_tenants t
      JOIN LATERAL (SELECT * FROM alphadome.llm_prices x WHERE x.model = t.ai_model AND x.effective_from <= current_date
                     ORDER BY x.effective_from DESC LIMIT 1) l ON true
     WHERE t.id = $1
    UNION ALL
    SELECT 'One US dollar', r.currency || ' ' || r.per_usd::float8::text, 'Since ' || r.effective_from || ', ' || r.source
      FROM alphadome.bot_control_settings s
      JOIN LATERAL (SELECT * FROM alphadome.exchange_rates x WHERE x.currency = s.currency AND x.effective_from <= current_date
                     ORDER BY x.effective_from DESC LIMIT 1) r ON true
     WHERE s.bot_tenant_id = $1";

/// A table of costs per period, newest first.
fn cost_table(caption: &str, rows: &[tokio_postgres::Row]) -> maud::Markup {
    let currency = rows
        .first()
        .map(|r| r.get::<_, String>(5))
        .unwrap_or_default();
    html! {
        table.costs {
            caption { (caption) ", " (currency) }
            thead { tr { th { "From" } th.num { "WhatsApp" } th.num { "AI" } th.num { "Total" } } }
            tbody { @for r in rows { tr {
                td { (r.get::<_, String>(0)) }
                td.num { (amount(r.get(1))) }
                td.num { (amount(r.get(2))) }
                td.num { strong { (amount(r.get(3))) } }
            } } }
        }
    }
}

pub async fn page(State(app): State<App>, session: Session) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
        let so_far = month_so_far(tx, tenant).await?;
        let daily = tx.query(COSTS, &[&tenant, &"day", &"YYYY-MM-DD"]).await?;
        let weekly = tx.query(COSTS, &[&tenant, &"week", &"DD Mon YYYY"]).await?;
        let monthly = tx.query(COSTS, &[&tenant, &"month", &"FMMonth YYYY"]).await?;
        let prices = tx.query(PRICES, &[&tenant]).await?;
        let currency = daily.first().map(|r| r.get::<_, String>(5)).unwrap_or_default();
        let cost_days: Vec<String> = daily.iter().rev().map(|r| r.get(0)).collect();
        let cost = |i: usize| daily.iter().rev().map(|r| r.get::<_, i64>(i)).collect::<Vec<i64>>();
        let rows = tx.query(DAYS, &[&tenant]).await?;
        let days: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let column = |i: usize| rows.iter().map(|r| r.get::<_, i64>(i)).collect::<Vec<i64>>();
        let total = |i: usize| column(i).iter().sum::<i64>();
        let this_week = |i: usize| rows.iter().filter(|r| r.get::<_, bool>(15)).map(|r| r.get::<_, i64>(i)).sum::<i64>();
        let line = |label: &str, i: usize| html! { tr { th { (label) } td.num { (this_week(i)) } td.num { (total(i)) } } };
        Ok(html::page(
            "Usage and cost",
            who,
            html! {
                (so_far)
                (stacked_amounts(&format!("Cost per day, {currency}"), &cost_days, &[
                    ("WhatsApp", "whatsapp", cost(1)), ("AI", "ai", cost(2)),
                ]))
                (cost_table("Per week", &weekly))
                (cost_table("Per month", &monthly))
                details.prices {
                    summary { "How this is counted" }
                    p.hint { "Meta charges per template message it delivers, by its category and the customer's country; replies inside the 24 hours after a customer writes are free. The AI is charged by the words (tokens) it reads and writes. Prices are in US dollars, turned into " (currency) " at the rate below; the operator keeps them up to date." }
                    ul { @for p in &prices {
                        li { strong { (p.get::<_, String>(0)) ": " (p.get::<_, String>(1)) } br; small { (p.get::<_, String>(2)) } }
                    } }
                }
                h2 { "Messages and the AI" }
                table.totals {
                    thead { tr { th { "Counted" } th.num { "This week" } th.num { "Last 30 days" } } }
                    tbody {
                    (line("Messages from customers", 14))
                    (line("Answered from the FAQ", 1))
                    (line("Answered from your products (prices, buying)", 16))
                    (line("Answered by the AI", 2))
                    (line("AI calls", 9))
                    tr { th { "AI words read + written (tokens, what the AI is paid by)" }
                         td.num { (this_week(6)) " + " (this_week(7)) } td.num { (total(6)) " + " (total(7)) } }
                    (line("Voice notes transcribed", 10))
                    (line("Messages sent", 8))
                    (line("Alerts", 13))
                } }
                (stacked_bars("Messages from customers, by what answered them", &days, &[
                    ("FAQ", "faq", column(1)), ("products", "sales", column(16)), ("AI", "llm", column(2)), ("no-answer reply", "fallback", column(3)),
                    ("to a person", "escalated", column(4)), ("not answered", "silent", column(5)),
                ]))
                (stacked_bars("AI words (tokens)", &days, &[("read", "prompt", column(6)), ("written", "completion", column(7))]))
                (stacked_bars("Messages sent: free replies and templates", &days, &[
                    ("replies within 24 hours (free)", "service", column(11)),
                    ("templates: offers, updates, codes (Meta may charge)", "paid", column(12)),
                ]))
            },
        ))
    })
    .await
}
