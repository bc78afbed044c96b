//! A person answers (0.3.0), end to end through the relay: a customer who asks for a person is
//! acknowledged once and the bot stays silent; the owner answers from SQL as the console does
//! (a text inside the 24-hour window, a template read from Meta outside it) and the message
//! goes out from the shop's number, its status following Meta's webhooks; the bot answers again
//! once given back; the shop's WhatsApp Business app beside the bot; the hand-off alert links to
//! the conversation; and the hand-off clock tells a customer nobody answered.
mod common;

use alphadome_e2e::mock::{meta_error, Recorded};
use alphadome_e2e::smtp::SmtpSink;
use alphadome_e2e::Client;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WANJIRU: &str = "254711000301";
const BARAKA: &str = "254711000302";
const WABA: &str = "102290129340398";
const CONSOLE: &str = "https://console.kassangas.test/";

/// The customer writes to Kassangas now; the relay takes it.
fn writes(d: &Deployment, customer: &str, text: &str, wamid: &str) {
    assert_eq!(d.post(&text_now(customer, text, wamid)).0, 200, "{wamid}");
}

/// Meta's sends to `to` (not read receipts).
fn sends_to(requests: &[Recorded], to: &str) -> Vec<Recorded> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.body["to"] == to && r.body.get("status").is_none())
        .cloned()
        .collect()
}

fn text_of(send: &Recorded) -> &str {
    send.body["text"]["body"].as_str().unwrap_or("")
}

fn conversation(d: &Deployment, customer: &str) -> i64 {
    d.db()
        .query_one(
            "SELECT id FROM alphadome.conversations WHERE customer_key = $1",
            &[&customer],
        )
        .unwrap()
        .get(0)
}

/// `act` as the tenant's owner: role alphadome_tenant and the tenant context, in a transaction
/// committed when it succeeds (docs/sql-api.md, "Owners under row-level security").
fn as_owner<T, E>(
    d: &Deployment,
    tenant: &str,
    act: impl FnOnce(&mut Client) -> Result<T, E>,
) -> Result<T, E> {
    let mut db = d.db();
    db.batch_execute("BEGIN; SET LOCAL ROLE alphadome_tenant")
        .unwrap();
    db.execute(
        "SELECT set_config('alphadome.tenant_id', $1, true)",
        &[&tenant],
    )
    .unwrap();
    let result = act(&mut db);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    db.batch_execute(end).unwrap();
    result
}

/// Waits until the customer's message `wamid` is decided and the queue is idle: whatever it
/// was going to cause has happened.
fn settled(d: &Deployment, wamid: &str) {
    let mut db = d.db();
    let deadline = std::time::Instant::now() + LONG;
    while !db
        .query_one(
            "SELECT EXISTS (SELECT FROM alphadome.messages WHERE wamid = $1 AND decision IS NOT NULL)",
            &[&wamid],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(std::time::Instant::now() < deadline, "{wamid} was never decided");
        std::thread::sleep(Duration::from_millis(50));
    }
    d.wait_until_idle(LONG);
}

/// Meta's status webhook for a message the shop sent.
fn status_webhook(wamid: &str, status: &str, to: &str) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": KASSANGAS_NUMBER, "phone_number_id": KASSANGAS_NUMBER},
        "statuses": [{"id": wamid, "status": status, "timestamp": "1760000100", "recipient_id": to}]}}]}]})
    .to_string()
    .into_bytes()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        alphadome_e2e::repo_root()
            .join("tests/fixtures/whatsapp")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_customer_asks_for_a_person_and_the_owner_answers_then_gives_it_back() {
    let smtp = SmtpSink::start();
    let d = Deployment::start(&[
        ("ALPHADOME_SMTP_URL", smtp.url.as_str()),
        ("ALPHADOME_CONSOLE_PUBLIC_URL", CONSOLE),
    ]);
    d.meta.send_statuses(vec![d.relay.url.clone()], APP_SECRET);
    d.db()
        .batch_execute("UPDATE alphadome.bot_tenants SET client_email = 'gideon@kassangas.test' WHERE slug = 'kassangas'")
        .unwrap();

    // Two customers ask for a person, in English and in Swahili: one acknowledgement each.
    let asks = [
        (
            WANJIRU,
            "I want to speak to a person please",
            "wamid.ask.en",
        ),
        (BARAKA, "Nataka kuongea na mtu tafadhali", "wamid.ask.sw"),
    ];
    for (customer, text, wamid) in asks {
        writes(&d, customer, text, wamid);
    }
    for (customer, _, wamid) in asks {
        settled(&d, wamid);
        let acks = sends_to(&d.meta.requests(), customer);
        assert_eq!(acks.len(), 1, "one acknowledgement to {customer}");
        assert_eq!(
            acks[0].authorization.as_deref(),
            Some(&*format!("Bearer {KASSANGAS_TOKEN}"))
        );
    }
    // Waiting: the bot says nothing more.
    writes(&d, WANJIRU, "Hello? Is anyone there?", "wamid.anyone");
    settled(&d, "wamid.anyone");
    assert_eq!(
        sends_to(&d.meta.requests(), WANJIRU).len(),
        1,
        "silent while she waits"
    );

    // The hand-off alert reaches the owner by email, with the link to her conversation.
    let wanjiru = conversation(&d, WANJIRU);
    let link = format!("https://console.kassangas.test/conversations/{wanjiru}");
    let mails = smtp.wait_for(2, LONG);
    assert!(
        mails.iter().any(|m| m.text().contains(&link)),
        "no alert links to {link}: {:?}",
        mails.iter().map(|m| m.text()).collect::<Vec<_>>()
    );

    // The owner answers from the console.
    let reply = "Pole sana! I am Gideon: we will replace the guitar this week.";
    as_owner(&d, &d.kassangas, |db| {
        db.query_one(
            "SELECT alphadome.send_human_reply($1, $2)",
            &[&wanjiru, &reply],
        )
    })
    .unwrap();
    let requests = d.meta.wait_until(LONG, "the owner's reply", |r| {
        sends_to(r, WANJIRU).iter().any(|s| text_of(s) == reply)
    });
    let sent = sends_to(&requests, WANJIRU)
        .into_iter()
        .find(|s| text_of(s) == reply)
        .unwrap();
    assert_eq!(sent.path, format!("/v23.0/{KASSANGAS_NUMBER}/messages"));
    assert_eq!(
        sent.authorization.as_deref(),
        Some(&*format!("Bearer {KASSANGAS_TOKEN}"))
    );
    assert!(sent.violations.is_empty(), "{:?}", sent.violations);
    d.wait_until_idle(LONG);
    let mut db = d.db();
    let row = db
        .query_one(
            "SELECT wamid, status FROM alphadome.messages WHERE body = $1 AND sent_by = 'person' AND direction = 'outbound'",
            &[&reply],
        )
        .unwrap();
    let (wamid, status): (String, String) = (row.get(0), row.get(1));
    assert_eq!(status, "sent");
    for next in ["delivered", "read"] {
        assert_eq!(d.post(&status_webhook(&wamid, next, WANJIRU)).0, 200);
        let status: String = db
            .query_one(
                "SELECT status FROM alphadome.messages WHERE wamid = $1",
                &[&wamid],
            )
            .unwrap()
            .get(0);
        assert_eq!(status, next);
    }

    // Given back: the bot answers her next question again.
    as_owner(&d, &d.kassangas, |db| {
        db.execute("SELECT alphadome.hand_back($1)", &[&wanjiru])
    })
    .unwrap();
    writes(&d, WANJIRU, "What are your opening hours?", "wamid.hours");
    d.meta.wait_until(LONG, "the bot's answer", |r| {
        sends_to(r, WANJIRU)
            .iter()
            .any(|s| text_of(s) == OPENING_HOURS_ANSWER)
    });
    d.assert_no_secret_in_logs();
}

#[test]
fn outside_the_window_the_owner_sends_a_template_read_from_meta() {
    let d = Deployment::start(&[]);
    writes(&d, WANJIRU, "Is my violin repaired?", "wamid.q");
    settled(&d, "wamid.q");
    let wanjiru = conversation(&d, WANJIRU);
    let mut db = d.db();
    db.execute(
        "UPDATE alphadome.conversations SET last_inbound_at = now() - interval '25 hours' WHERE id = $1",
        &[&wanjiru],
    )
    .unwrap();
    let refused = as_owner(&d, &d.kassangas, |db| {
        db.query_one(
            "SELECT alphadome.send_human_reply($1, 'Yes, come for it')",
            &[&wanjiru],
        )
    })
    .unwrap_err();
    assert_eq!(refused.code().map(|c| c.code()), Some("22023"));
    assert_eq!(
        refused.as_db_error().map(|e| e.message()),
        Some("outside the 24-hour window: send a template")
    );

    // The shop's templates, read from Meta by the relay.
    d.meta.serve_templates(vec![
        json!({"name": "repair_ready", "language": "en", "status": "APPROVED", "category": "UTILITY", "id": "1",
               "components": [{"type": "BODY", "text": "Hello {{1}}, your {{2}} is ready for collection."}]}),
        json!({"name": "shop_hello", "language": "sw", "status": "APPROVED", "category": "UTILITY", "id": "2",
               "components": [{"type": "BODY", "text": "Habari! Duka limefunguliwa."}]}),
        json!({"name": "big_sale", "language": "en", "status": "REJECTED", "category": "MARKETING", "id": "3",
               "rejected_reason": "PROMOTIONAL", "components": [{"type": "BODY", "text": "Sale!"}]}),
    ]);
    db.execute(
        "UPDATE alphadome.bot_tenants SET whatsapp_business_account_id = $1 WHERE slug = 'kassangas'",
        &[&WABA],
    )
    .unwrap();
    as_owner(&d, &d.kassangas, |db| {
        db.query_one("SELECT alphadome.sync_templates()", &[])
    })
    .unwrap();
    d.wait_for(
        "the templates",
        "SELECT count(*) = 3 FROM alphadome.whatsapp_templates",
        LONG,
    );
    let lists: Vec<Recorded> = d
        .meta
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/message_templates"))
        .collect();
    assert_eq!(lists.len(), 1);
    assert_eq!(
        (lists[0].method.as_str(), lists[0].path.as_str()),
        ("GET", &*format!("/v23.0/{WABA}/message_templates"))
    );
    assert!(lists[0].query.is_empty(), "{:?}", lists[0].query);
    assert_eq!(
        lists[0].authorization.as_deref(),
        Some(&*format!("Bearer {KASSANGAS_TOKEN}"))
    );
    assert!(lists[0].violations.is_empty(), "{:?}", lists[0].violations);
    let body: String = db
        .query_one(
            "SELECT body FROM alphadome.whatsapp_templates WHERE name = 'repair_ready' AND status = 'APPROVED'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(body, "Hello {{1}}, your {{2}} is ready for collection.");

    // Sent in Meta's template shape: the parameters, not the rendered text.
    as_owner(&d, &d.kassangas, |db| {
        db.query_one(
            "SELECT alphadome.send_template($1, 'repair_ready', 'en', ARRAY['Wanjiru', 'violin'])",
            &[&wanjiru],
        )
    })
    .unwrap();
    as_owner(&d, &d.kassangas, |db| {
        db.query_one(
            "SELECT alphadome.send_template($1, 'shop_hello', 'sw')",
            &[&wanjiru],
        )
    })
    .unwrap();
    let requests = d.meta.wait_until(LONG, "the templates", |r| {
        sends_to(r, WANJIRU)
            .iter()
            .filter(|s| s.body["type"] == "template")
            .count()
            == 2
    });
    let templates: Vec<Recorded> = sends_to(&requests, WANJIRU)
        .into_iter()
        .filter(|s| s.body["type"] == "template")
        .collect();
    for sent in &templates {
        assert!(
            sent.violations.is_empty(),
            "Meta's spec: {:?}",
            sent.violations
        );
        assert!(sent.body["biz_opaque_callback_data"]
            .as_str()
            .unwrap()
            .starts_with("job:"));
        assert!(
            sent.body.get("text").is_none(),
            "the rendered text is not sent"
        );
    }
    let by_name = |name: &str| {
        templates
            .iter()
            .find(|s| s.body["template"]["name"] == name)
            .unwrap()
    };
    assert_eq!(
        by_name("repair_ready").body["template"],
        json!({"name": "repair_ready", "language": {"policy": "deterministic", "code": "en"},
               "components": [{"type": "body", "parameters": [{"type": "text", "text": "Wanjiru"},
                                                              {"type": "text", "text": "violin"}]}]})
    );
    assert_eq!(
        by_name("shop_hello").body["template"],
        json!({"name": "shop_hello", "language": {"policy": "deterministic", "code": "sw"}}),
        "no parameters, no components"
    );
    d.wait_until_idle(LONG);
    let logged: Vec<(String, String)> = db
        .query(
            "SELECT message_type, body FROM alphadome.messages WHERE sent_by = 'person' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        logged,
        [
            (
                "template".to_string(),
                "Hello Wanjiru, your violin is ready for collection.".to_string()
            ),
            (
                "template".to_string(),
                "Habari! Duka limefunguliwa.".to_string()
            ),
        ],
        "the log keeps the rendered text"
    );
    d.assert_no_secret_in_logs();
}

#[test]
fn the_shops_whatsapp_app_beside_the_bot_is_recorded_and_never_answered() {
    let d = Deployment::start(&[]);
    // Earlier chats, imported: nothing is sent.
    assert_eq!(d.post(&fixture("33_meta_history.json")).0, 200);
    d.wait_until_idle(LONG);
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE payload ? 'history_context'"),
        2,
        "both messages of the thread"
    );
    assert!(d.meta.sends().is_empty(), "history is never answered");

    // The owner writes from the app: recorded as the app's, and the bot leaves the customer to him.
    assert_eq!(d.post(&fixture("31_meta_smb_message_echoes.json")).0, 200);
    let echo: (String, String) = {
        let row = d
            .db()
            .query_one(
                "SELECT sent_by, body FROM alphadome.messages WHERE wamid = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA='",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        echo,
        (
            "app".into(),
            "Here's the info you requested! https://www.meta.com/quest/quest-3/".into()
        )
    );
    writes(
        &d,
        "16505551234",
        "What are your opening hours?",
        "wamid.after.echo",
    );
    settled(&d, "wamid.after.echo");
    assert!(
        d.meta.sends().is_empty(),
        "a person has the conversation: {:?}",
        d.meta.sends()
    );
}

#[test]
fn a_customer_nobody_answers_is_told_when_the_hand_off_clock_runs_out() {
    let d = Deployment::start(&[("ALPHADOME_HANDOFF_CHORE_SECONDS", "1")]);
    writes(
        &d,
        WANJIRU,
        "I want to speak to a person please",
        "wamid.ask",
    );
    settled(&d, "wamid.ask");
    assert_eq!(
        sends_to(&d.meta.requests(), WANJIRU).len(),
        1,
        "the acknowledgement"
    );
    let mut db = d.db();
    let told: String = db
        .query_one(
            "SELECT handoff_timeout_message FROM alphadome.bot_control_settings s
               JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id WHERE t.slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0);
    db.execute(
        "UPDATE alphadome.conversations SET waiting_since = now() - interval '3 hours' WHERE customer_key = $1",
        &[&WANJIRU],
    )
    .unwrap();
    d.meta
        .wait_until(Duration::from_secs(10), "the timeout message", |r| {
            sends_to(r, WANJIRU).iter().any(|s| text_of(s) == told)
        });
    let state: Value = db
        .query_one(
            "SELECT to_jsonb(state) FROM alphadome.conversations WHERE customer_key = $1",
            &[&WANJIRU],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, json!("bot"), "the bot answers her again");
}

#[test]
fn a_templates_sync_meta_refuses_fails_as_any_call_to_meta_does() {
    let d = Deployment::start(&[]);
    let mut db = d.db();
    db.execute(
        "UPDATE alphadome.bot_tenants SET whatsapp_business_account_id = '1' WHERE slug = 'kassangas'",
        &[],
    )
    .unwrap();
    let sync = |db: &mut Client| -> i64 {
        db.query_one(
            "SELECT alphadome.sync_templates($1::text::uuid)",
            &[&d.kassangas],
        )
        .unwrap()
        .get(0)
    };
    // An account id Meta does not know: a dead letter with Meta's reason, nothing stored.
    d.meta.push(400, meta_error(100, "Unsupported get request"));
    let job = sync(&mut db);
    d.wait_until_idle(LONG);
    let row = db
        .query_one(
            "SELECT status::text, last_error FROM alphadome.outbox WHERE id = $1",
            &[&job],
        )
        .unwrap();
    let (status, error): (String, Value) = (row.get(0), row.get(1));
    assert_eq!(status, "dead");
    assert_eq!(
        (error["class"].as_str(), error["code"].as_i64()),
        (Some("permanent"), Some(100))
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.whatsapp_templates"),
        0
    );
    // A refused token: the tenant is paused until a new one is set, and the job waits.
    d.meta
        .push(401, meta_error(190, "Error validating access token"));
    let job = sync(&mut db);
    d.wait_for(
        "the tenant paused",
        "SELECT credential_status = 'needs_reauth' FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
        LONG,
    );
    let status: String = db
        .query_one(
            "SELECT status::text FROM alphadome.outbox WHERE id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "queued", "it waits for the new token");
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'token_refused'"),
        1
    );
    d.assert_no_secret_in_logs();
}
