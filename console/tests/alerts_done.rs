//! An alert waiting for the shop to open, and what stops it (issue 22): the owner's "Done" and
//! his reply to the customer in the inbox. Neither may leave its job to reach the phone later.
mod common;

use common::*;

/// Closed now: open one hour, three days from now (whatever the clock says).
const CLOSED_FOR_DAYS: &str = "UPDATE alphadome.bot_control_settings
    SET business_hours = jsonb_build_object(
            (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[extract(dow FROM (now() AT TIME ZONE timezone) + interval '3 days')::int + 1],
            '[[\"10:00\", \"11:00\"]]'::jsonb)
  WHERE bot_tenant_id = $1::text::uuid";

/// The alert about a customer: its status, and its job's (or "no job").
fn alert(shop: &Shop, customer: &str) -> (i64, String, String) {
    let row = shop
        .db()
        .query_one(
            "SELECT a.id, a.status, coalesce((SELECT o.status::text FROM alphadome.outbox o
                                              WHERE o.id = a.job_id AND o.bot_tenant_id = a.bot_tenant_id), 'no job')
               FROM alphadome.alerts a JOIN alphadome.conversations c
                 ON c.bot_tenant_id = a.bot_tenant_id AND c.id = a.conversation_id
              WHERE c.customer_key = $1",
            &[&customer],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[test]
fn done_and_a_reply_stop_an_alert_that_waits_for_the_opening() {
    let shop = Shop::start();
    shop.db()
        .execute(CLOSED_FOR_DAYS, &[&shop.kassangas])
        .unwrap();
    shop.customer_asks("254711000701", "I want a human", "wamid.done.1");
    shop.customer_asks("254711000702", "I want a human", "wamid.done.2");
    let (first, status, job) = alert(&shop, "254711000701");
    assert_eq!((status.as_str(), job.as_str()), ("queued", "queued"));
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let (_, page) = owner.get("/alerts");
    assert!(page.contains("when the shop opens"), "{page}");

    // Done: the card says it will not go, and its job is gone.
    let (status, _) = owner.post(
        &format!("/alerts/{first}/done"),
        &[("csrf", &csrf), ("back", "/alerts")],
    );
    assert_eq!(status, 303);
    assert_eq!(
        alert(&shop, "254711000701"),
        (first, "cancelled".into(), "no job".into())
    );
    let (_, page) = owner.get(&format!("/alerts/{first}"));
    assert!(
        page.contains("Not sent: marked done before it went.") && !page.contains("Will be sent"),
        "{page}"
    );

    // A reply to the other customer from the inbox cancels the alert about him.
    let conversation: i64 = shop
        .db()
        .query_one(
            "SELECT id FROM alphadome.conversations WHERE customer_key = '254711000702'",
            &[],
        )
        .unwrap()
        .get(0);
    let (status, _) = owner.post(
        &format!("/conversations/{conversation}/reply"),
        &[("text", "Gideon here: how can I help?"), ("csrf", &csrf)],
    );
    assert_eq!(status, 303);
    let (second, status, job) = alert(&shop, "254711000702");
    assert_eq!((status.as_str(), job.as_str()), ("cancelled", "no job"));
    let (_, page) = owner.get(&format!("/alerts/{second}"));
    assert!(
        page.contains("Not sent: someone answered the customer before it went."),
        "{page}"
    );
    let waiting: i64 = shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE kind = 'alert.send' AND status = 'queued'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        waiting, 0,
        "nothing left to reach the escalation phone later"
    );
}

/// An alert of a bot in test mode (dry run) said "Not really sent" and not where it would have
/// gone, which is what the owner checks (is it my number, my email?).
#[test]
fn an_alert_in_test_mode_says_where_it_would_have_gone() {
    let shop = Shop::start();
    shop.db()
        .execute(CLOSED_FOR_DAYS, &[&shop.kassangas])
        .unwrap();
    shop.customer_asks("254711000711", "I want a human", "wamid.done.sim");
    let (id, _, _) = alert(&shop, "254711000711");
    // As the relay records one in dry-run mode.
    shop.db()
        .execute(
            "UPDATE alphadome.alerts SET status = 'simulated', channel = 'email', sent_to = '{gideon@kassangas.test}'
              WHERE id = $1",
            &[&id],
        )
        .unwrap();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get(&format!("/alerts/{id}"));
    assert!(
        page.contains("Not really sent: it would have gone by email to gideon@kassangas.test"),
        "{page}"
    );
}
