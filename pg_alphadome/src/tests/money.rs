//! What usage costs (usage_cost): Meta's charges and the LLM's, in the tenant's currency,
//! checked against the test's own arithmetic on the stored prices and counts.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    /// A conversation of tenant `t` with customer `number`, and `count` messages sent to it that
    /// Meta priced as `category`.
    fn sent(t: &str, number: &str, category: &str, count: i32) {
        run(
            "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id) VALUES ($1::uuid, $2, $2)
             ON CONFLICT DO NOTHING",
            &[t.into(), number.into()],
        );
        run(
            "INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, status, pricing_category)
             SELECT $1::uuid, c.id, 'outbound', 'w.cost.' || $3 || '.' || $2 || '.' || i, 'delivered', $3
               FROM alphadome.conversations c, generate_series(1, $4) i
              WHERE c.bot_tenant_id = $1::uuid AND c.customer_key = $2",
            &[t.into(), number.into(), category.into(), count.into()],
        );
    }

    /// A reply.generate job of tenant `t` done with this usage, for `model`.
    fn answered(t: &str, model: &str, prompt: i64, completion: i64) {
        run(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, result)
             VALUES ($1::uuid, 'reply.generate', '{}', 'done',
                     jsonb_build_object('content', 'ok', 'model', $2,
                                        'usage', jsonb_build_object('prompt_tokens', $3, 'completion_tokens', $4)))",
            &[t.into(), model.into(), prompt.into(), completion.into()],
        );
    }

    fn stored(query: &str, args: &[&str]) -> f64 {
        let args: Vec<pgrx::datum::DatumWithOid> = args.iter().map(|a| (*a).into()).collect();
        one::<f64>(query, &args).unwrap_or_else(|| panic!("no stored value: {query}"))
    }

    #[pg_test]
    fn usage_costs_what_the_stored_prices_and_counts_say_in_kes() {
        let (a, b) = two_tenants();
        sent(&a, "254711000001", "marketing", 3);
        sent(&a, "254711000001", "utility", 2);
        sent(&a, "254711000002", "authentication", 1);
        sent(&a, "254711000002", "service", 4);
        // A customer in a country without a price: counted as unpriced, costing nothing.
        sent(&a, "15551230001", "marketing", 1);
        answered(&a, "gpt-4o-mini", 120_000, 8_000);
        answered(&a, "gpt-4o-mini", 30_000, 2_000);
        answered(&a, "some-model-without-a-price", 1_000, 100);
        // An alert sent to the escalation phone as the tenant's template (no approved template
        // known: priced as utility), and one that went as free text inside the window.
        run(
            "INSERT INTO alphadome.alerts (bot_tenant_id, kind, text, channel, status, sent_at, sent_to)
             VALUES ($1::uuid, 'handoff', 'A customer asked for a person', 'whatsapp_template', 'sent', now(), '{+254700000001}'),
                    ($1::uuid, 'handoff', 'A customer asked for a person', 'whatsapp_text', 'sent', now(), '{+254700000001}')",
            &[a.as_str().into()],
        );
        // B's usage is not A's.
        sent(&b, "254711000003", "marketing", 50);

        // The test's own arithmetic, from the stored prices.
        let price = |category: &str| {
            stored(
                "SELECT price::float8 FROM alphadome.whatsapp_prices
                  WHERE country_code = '254' AND category = $1 AND effective_from <= current_date
                  ORDER BY effective_from DESC LIMIT 1",
                &[category],
            )
        };
        let kes = stored(
            "SELECT per_usd::float8 FROM alphadome.exchange_rates WHERE currency = 'KES' AND effective_from <= current_date
              ORDER BY effective_from DESC LIMIT 1",
            &[],
        );
        let (input, output) = (
            stored("SELECT input_per_million::float8 FROM alphadome.llm_prices WHERE model = 'gpt-4o-mini'", &[]),
            stored("SELECT output_per_million::float8 FROM alphadome.llm_prices WHERE model = 'gpt-4o-mini'", &[]),
        );
        assert_eq!(
            price("service"),
            0.0,
            "a reply inside the 24-hour window is free"
        );
        let whatsapp =
            (3.0 * price("marketing") + 3.0 * price("utility") + price("authentication")) * kes;
        let ai = (150_000.0 * input + 10_000.0 * output) / 1_000_000.0 * kes;
        let cents = |x: f64| (x * 100.0).round() as i64;
        assert!(
            whatsapp > 1.0 && ai > 1.0,
            "the figures are not trivially zero: {whatsapp} {ai}"
        );

        let today = |tenant: &str, period: &str| {
            one::<String>(
                "SELECT (SELECT format('%s %s %s %s %s paid %s free %s unpriced, %s calls %s+%s tokens %s unpriced',
                               currency, (whatsapp_cost * 100)::bigint, (ai_cost * 100)::bigint, (total_cost * 100)::bigint,
                               paid_messages, free_messages, unpriced_messages, ai_calls, prompt_tokens, completion_tokens,
                               unpriced_ai_calls)
                   FROM alphadome.usage_cost($1::uuid, $2) ORDER BY period_start DESC LIMIT 1)",
                &[tenant.into(), period.into()],
            )
        };
        let expected = format!(
            "KES {} {} {} 7 paid 4 free 1 unpriced, 3 calls 151000+10100 tokens 1 unpriced",
            cents(whatsapp),
            cents(ai),
            cents(whatsapp) + cents(ai)
        );
        // Today, this week and this month hold the same usage (all of it is from now).
        for period in ["day", "week", "month"] {
            assert_eq!(
                today(&a, period).as_deref(),
                Some(expected.as_str()),
                "{period}"
            );
        }
        // The owner sees his own cost; another owner sees nothing of it.
        act_as("alphadome_tenant", Context::Setting(&b));
        assert_eq!(today(&a, "day"), None, "B does not see A's cost");
        act_as("alphadome_tenant", Context::Setting(&a));
        assert_eq!(today(&a, "day").as_deref(), Some(expected.as_str()));
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.usage_cost($1[1]::uuid, 'year')",
                &[a.as_str()]
            ),
            "22023"
        );
        // Prices are read by owners and written by the operator only.
        assert_eq!(
            outcome("UPDATE alphadome.exchange_rates SET per_usd = 1", &[]),
            "42501"
        );
        act_as("alphadome_admin", Context::None);
        assert_eq!(
            outcome(
                "UPDATE alphadome.whatsapp_prices SET price = 1 WHERE shipped",
                &[]
            ),
            "ok 0",
            "the shipped rate card is not changed"
        );
        // A newer rate from today on changes today's cost, not the counts.
        assert_eq!(
            outcome(
                "INSERT INTO alphadome.exchange_rates (currency, effective_from, per_usd, source)
                 VALUES ('KES', current_date, 2 * $1[1]::numeric, 'test')",
                &[kes.to_string().as_str()]
            ),
            "ok 1"
        );
        let doubled = format!(
            "KES {} {} {} 7 paid 4 free 1 unpriced, 3 calls 151000+10100 tokens 1 unpriced",
            cents(2.0 * whatsapp),
            cents(2.0 * ai),
            cents(2.0 * whatsapp) + cents(2.0 * ai)
        );
        assert_eq!(today(&a, "day").as_deref(), Some(doubled.as_str()));
    }

    #[pg_test]
    fn days_without_usage_cost_nothing_and_every_period_is_listed() {
        let (a, _) = two_tenants();
        let rows = |period: &str| {
            one::<String>(
                "SELECT format('%s %s', count(*), sum(total_cost)) FROM alphadome.usage_cost($1::uuid, $2)",
                &[a.as_str().into(), period.into()],
            )
        };
        assert_eq!(rows("day").as_deref(), Some("30 0.00"));
        assert_eq!(rows("week").as_deref(), Some("12 0.00"));
        assert_eq!(rows("month").as_deref(), Some("12 0.00"));
    }
}
