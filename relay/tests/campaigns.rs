//! Campaigns (issue 26) end to end, against the mock Graph API: the owner's December sale to
//! 1,000 customers of whom 300 never opted in and 50 sent STOP reaches exactly the 650 others,
//! once each, in Meta's template shape, at the number's pace; the relay is SIGKILLed mid-campaign
//! and started again without sending anyone a second message; Meta's 131049 for some customers
//! is recorded and not retried; a customer's answer to the campaign is an ordinary conversation.
mod common;

use alphadome_e2e::mock::Recorded;
use alphadome_e2e::Client;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const WABA: &str = "102290129340398";
/// Messages a second from Kassangas's number for this test (the default is 20: the same code,
/// a shorter test).
const RATE: usize = 50;
/// Customers Meta holds marketing back from (131049): ten of those who opted in.
const HELD_BACK: &str = "25471200099";

fn customer(n: usize) -> String {
    format!("2547120{n:05}")
}

/// `act` as Kassangas's owner: role alphadome_tenant and the tenant context, in a transaction.
fn as_owner<T>(d: &Deployment, act: impl FnOnce(&mut Client) -> T) -> T {
    let mut db = d.db();
    db.batch_execute("BEGIN; SET LOCAL ROLE alphadome_tenant")
        .unwrap();
    db.execute(
        "SELECT set_config('alphadome.tenant_id', $1, true)",
        &[&d.kassangas],
    )
    .unwrap();
    let result = act(&mut db);
    db.batch_execute("COMMIT").unwrap();
    result
}

fn template_sends(d: &Deployment) -> Vec<Recorded> {
    d.meta
        .sends()
        .into_iter()
        .filter(|r| r.body["type"] == "template")
        .collect()
}

#[test]
fn the_december_sale_reaches_those_who_opted_in_once_each_at_the_pace_through_a_relay_kill() {
    let mut d = Deployment::start(&[("ALPHADOME_LEASE_SECONDS", "3")]);
    d.meta.send_statuses(vec![d.relay.url.clone()], APP_SECRET);
    d.meta.hold_back_marketing(HELD_BACK);
    let mut db = d.db();
    db.execute(
        "UPDATE alphadome.bot_tenants SET whatsapp_business_account_id = $1 WHERE id = $2::text::uuid",
        &[&WABA, &d.kassangas],
    )
    .unwrap();
    // Kassangas's number is in Meta's 1K tier; its customers wrote over the last weeks.
    db.execute(
        "UPDATE alphadome.bot_control_settings SET messaging_limit = 1000, campaign_rate = $2
          WHERE bot_tenant_id = $1::text::uuid",
        &[&d.kassangas, &(RATE as i32)],
    )
    .unwrap();
    let customers: Vec<String> = (0..1000).map(customer).collect();
    db.execute(
        "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, customer_name, last_inbound_at)
         SELECT $1::text::uuid, c, c, 'Mteja ' || right(c, 3), now() - make_interval(hours => (right(c, 3)::int % 500))
           FROM unnest($2::text[]) c",
        &[&d.kassangas, &customers],
    )
    .unwrap();
    // 700 agreed on the shop's paper form; 50 of them then sent STOP.
    let signed: Vec<String> = customers[300..].to_vec();
    let imported: Value = as_owner(&d, |db| {
        db.query_one(
            "SELECT alphadome.import_marketing_consent($1, 'paper form at the shop, November 2026')",
            &[&signed],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(imported["recorded"], 700);
    for (i, c) in customers[300..350].iter().enumerate() {
        let wamid = format!("wamid.stop.{i}");
        assert_eq!(d.post(&text_now(c, "STOP", &wamid)).0, 200);
    }
    // The owner writes the template; it goes to Meta for review, and Meta approves it.
    let submitted: i64 = as_owner(&d, |db| {
        db.query_one(
            "SELECT alphadome.create_template('december_sale', 'marketing', 'en',
                     'Hi {{1}}, everything at Kassangas is 20% off until 31 December!', ARRAY['Wanjiru'])",
            &[],
        )
        .unwrap()
        .get(0)
    });
    d.wait_for(
        "the template submitted",
        &format!("SELECT status = 'done' FROM alphadome.outbox WHERE id = {submitted}"),
        LONG,
    );
    let created: Vec<Recorded> = d
        .meta
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/v23.0/{WABA}/message_templates"))
        .collect();
    assert_eq!(created.len(), 1);
    assert!(
        created[0].violations.is_empty(),
        "{:?}",
        created[0].violations
    );
    assert_eq!(
        created[0].body,
        json!({"name": "december_sale", "language": "en", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Hi {{1}}, everything at Kassangas is 20% off until 31 December!",
                               "example": {"body_text": [["Wanjiru"]]}}]})
    );
    let status = |d: &Deployment| -> String {
        d.db()
            .query_one(
                "SELECT status FROM alphadome.whatsapp_templates WHERE name = 'december_sale'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(status(&d), "PENDING");
    let approval = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": 1764547200,
        "changes": [{"field": "message_template_status_update", "value": {
            "event": "APPROVED", "message_template_id": 900000, "message_template_name": "december_sale",
            "message_template_language": "en", "reason": "NONE"}}]}]});
    assert_eq!(d.post(approval.to_string().as_bytes()).0, 200);
    assert_eq!(status(&d), "APPROVED");
    d.wait_until_idle(LONG);

    // The owner's preview: who receives it, who not and why, and what it costs.
    let (campaign, preview): (i64, Value) = as_owner(&d, |db| {
        let id: i64 = db
            .query_one(
                "SELECT alphadome.create_campaign('December sale', 'december_sale', 'en', ARRAY['{first_name}'])",
                &[],
            )
            .unwrap()
            .get(0);
        let preview: Value = db
            .query_one("SELECT alphadome.campaign_preview($1)", &[&id])
            .unwrap()
            .get(0);
        (id, preview)
    });
    let others = d.count(
        "SELECT count(*) FROM alphadome.conversations c JOIN alphadome.bot_tenants t ON t.id = c.bot_tenant_id
          WHERE t.slug = 'kassangas' AND c.customer_key NOT LIKE '2547120%'",
    );
    assert_eq!(preview["receive"], 650, "{preview}");
    assert_eq!(
        preview["excluded"],
        json!({"no_opt_in": 300 + others, "opted_out": 50, "beyond_limit": 0})
    );
    assert_eq!(preview["currency"], "KES");
    // 650 marketing messages to Kenya: USD 0.0225 each, KES 129.25 to the dollar.
    assert_eq!(preview["estimated_cost"], json!(1890.28));

    let started = Instant::now();
    as_owner(&d, |db| {
        db.query_one("SELECT alphadome.start_campaign($1)", &[&campaign])
            .unwrap()
    });
    // Mid-campaign the relay is SIGKILLed, and started again a second later.
    let deadline = Instant::now() + LONG;
    while template_sends(&d).len() < 250 {
        assert!(Instant::now() < deadline, "the campaign did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    d.relay.kill();
    std::thread::sleep(Duration::from_secs(1));
    d.relay.restart();
    d.wait_for(
        "the campaign to finish",
        &format!("SELECT status = 'done' FROM alphadome.campaigns WHERE id = {campaign}"),
        Duration::from_secs(120),
    );
    let took = started.elapsed();

    // Exactly the 650, each once, in Meta's template shape naming the recipient row.
    let sends = template_sends(&d);
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for s in &sends {
        *per_customer
            .entry(s.body["to"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_customer.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let mut reached: Vec<String> = per_customer.keys().cloned().collect();
    reached.sort();
    assert_eq!(
        reached,
        customers[350..].to_vec(),
        "exactly those who opted in"
    );
    let recipient_ids: HashMap<String, i64> = db
        .query(
            "SELECT c.customer_key::text, r.id FROM alphadome.campaign_recipients r
               JOIN alphadome.conversations c ON c.id = r.conversation_id WHERE r.campaign_id = $1",
            &[&campaign],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for s in &sends {
        let to = s.body["to"].as_str().unwrap();
        assert_eq!(s.path, format!("/v23.0/{KASSANGAS_NUMBER}/messages"));
        assert_eq!(
            s.body["template"],
            json!({"name": "december_sale", "language": {"policy": "deterministic", "code": "en"},
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "Mteja"}]}]}),
            "{}",
            s.body
        );
        assert_eq!(
            s.body["biz_opaque_callback_data"],
            format!("campaign:{}", recipient_ids[to])
        );
        assert!(s.violations.is_empty(), "{:?}", s.violations);
    }
    // Never more than RATE in any second.
    let mut times: Vec<Instant> = sends.iter().map(|s| s.received_at).collect();
    times.sort();
    let busiest = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap();
    assert!(busiest <= RATE, "{busiest} sends in one second");

    // 131049: recorded once, not retried.
    let results = db
        .query_one(
            "SELECT to_jsonb(r) FROM alphadome.campaign_results($1) r",
            &[&campaign],
        )
        .unwrap()
        .get::<_, Value>(0);
    assert_eq!(results["recipients"], 650);
    assert_eq!(results["sent"], 640, "{results}");
    assert_eq!(results["failed"], 10);
    assert_eq!(results["failed_by_reason"], json!({"131049": 10}));
    assert_eq!(
        d.count(
            "SELECT count(*) FROM alphadome.outbox WHERE kind = 'campaign.send' AND status <> 'done'"
        ),
        0,
        "no job dead or left"
    );

    // A customer answers the campaign: an ordinary conversation with the bot.
    let fan = &customers[400];
    assert_eq!(
        d.post(&text_now(
            fan,
            "What are your opening hours?",
            "wamid.fan.1"
        ))
        .0,
        200
    );
    d.wait_for(
        "the answer",
        &format!(
            "SELECT EXISTS (SELECT FROM alphadome.messages m JOIN alphadome.conversations c ON c.id = m.conversation_id
                             WHERE c.customer_key = '{fan}' AND m.direction = 'outbound' AND m.message_type = 'text')"
        ),
        LONG,
    );
    let answer: String = db
        .query_one(
            "SELECT m.body FROM alphadome.messages m JOIN alphadome.conversations c ON c.id = m.conversation_id
              WHERE c.customer_key = $1 AND m.direction = 'outbound' AND m.message_type = 'text'",
            &[fan],
        )
        .unwrap()
        .get(0);
    assert_eq!(answer, OPENING_HOURS_ANSWER);
    let replied: Value = db
        .query_one(
            "SELECT to_jsonb(r) FROM alphadome.campaign_results($1) r",
            &[&campaign],
        )
        .unwrap()
        .get(0);
    assert_eq!(replied["replied"], 1);
    println!(
        "campaign of 650 at {RATE}/s with a relay SIGKILL: done in {:.1} s, busiest second {busiest} sends",
        took.as_secs_f64()
    );
    d.assert_no_secret_in_logs();
}
