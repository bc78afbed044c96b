//! Amounts as the owner reads them, and this month's cost so far (the overview's line and the
//! usage page's first), from alphadome.usage_cost.
use crate::error::AppError;
use maud::{html, Markup};
use tokio_postgres::Transaction;
use uuid::Uuid;

/// Cents as "1,234.56".
pub fn amount(cents: i64) -> String {
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

/// This month so far in the tenant's time zone: (currency, WhatsApp, AI, total in cents,
/// messages and AI calls without a price).
const MONTH_SO_FAR: &str = "
    SELECT u.currency, (u.whatsapp_cost * 100)::bigint, (u.ai_cost * 100)::bigint, (u.total_cost * 100)::bigint,
           u.unpriced_messages + u.unpriced_ai_calls
      FROM alphadome.bot_control_settings s,
           alphadome.usage_cost(s.bot_tenant_id, 'month', date_trunc('month', now() AT TIME ZONE s.timezone)::date) u
     WHERE s.bot_tenant_id = $1";

/// "This month so far: KES 1,234.56 (WhatsApp KES 200.00, AI KES 1,034.56)", linking to the
/// usage page; a word when something could not be priced.
pub async fn month_so_far(tx: &Transaction<'_>, tenant: Uuid) -> Result<Markup, AppError> {
    let Some(row) = tx.query_opt(MONTH_SO_FAR, &[&tenant]).await? else {
        return Ok(html! {});
    };
    let currency: String = row.get(0);
    let (whatsapp, ai, total, unpriced): (i64, i64, i64, i64) =
        (row.get(1), row.get(2), row.get(3), row.get(4));
    Ok(html! {
        p.cost-so-far {
            a href="/usage" { "This month so far: " strong { (currency) " " (amount(total)) } }
            " (WhatsApp " (currency) " " (amount(whatsapp)) ", AI " (currency) " " (amount(ai)) ")"
            @if unpriced > 0 {
                br; small { (unpriced) " messages or AI answers have no price yet and are not counted: tell the operator." }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::amount;

    #[test]
    fn amounts_have_thousands_and_two_decimals() {
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(123_456), "1,234.56");
        assert_eq!(amount(100_000_000), "1,000,000.00");
        assert_eq!(amount(-2_050), "-20.50");
    }
}
