//! Selling in the chat (issue 24), end to end through the relay: a price question answered from
//! the products, "I want to buy" answered with buttons, the pay button's M-Pesa STK push to a
//! mock Daraja that checks every field, its callbacks (paid, cancelled, sent twice, with another
//! amount), the query when no callback comes, and a stranger's callback.
mod common;

use alphadome_e2e::daraja::{Customer, Daraja};
use alphadome_e2e::Client;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Safaricom's published sandbox shortcode and passkey, and its test phone (public fixtures).
const SHORTCODE: &str = "174379";
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const PHONE: &str = "254708374149";
const CONSUMER_KEY: &str = "mpesa-test-consumer-key-91c2";
const CONSUMER_SECRET: &str = "mpesa-test-consumer-secret-4be8";

/// A customer's choice of a reply button, as Meta's webhook brings it.
fn pressed(id: &str, title: &str, wamid: &str) -> Vec<u8> {
    let mut webhook: Value = serde_json::from_slice(&text_now(PHONE, "x", wamid)).unwrap();
    webhook["entry"][0]["changes"][0]["value"]["messages"][0]["type"] = json!("interactive");
    webhook["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"] =
        json!({"type": "button_reply", "button_reply": {"id": id, "title": title}});
    webhook.to_string().into_bytes()
}

/// Meta's sends to the customer whose text (or interactive body) holds `words`.
fn sends_with(d: &Deployment, words: &str) -> Vec<Value> {
    d.meta
        .sends()
        .into_iter()
        .map(|r| {
            assert!(r.violations.is_empty(), "{:?}: {}", r.violations, r.body);
            r.body
        })
        .filter(|b| {
            b["text"]["body"]
                .as_str()
                .is_some_and(|t| t.contains(words))
                || b["interactive"]["body"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(words))
        })
        .collect()
}

fn wait_for_send(d: &Deployment, words: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(sent) = sends_with(d, words).pop() {
            return sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no send with {words:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The customer buys the guitar (a new order) and presses "Pay with M-Pesa", and does with the
/// PIN prompt what `customer` says; returns the order.
fn buy_and_press_pay(d: &Deployment, daraja: &Daraja, n: u32, customer: Customer) -> i64 {
    daraja.next_customer(customer);
    let before = d.count("SELECT count(*) FROM alphadome.orders");
    let buy = text_now(
        PHONE,
        "I want to buy the yamaha guitar",
        &format!("wamid.buy.{n}"),
    );
    assert_eq!(d.post(&buy).0, 200);
    d.wait_for(
        "the order",
        &format!("SELECT count(*) > {before} FROM alphadome.orders"),
        Duration::from_secs(10),
    );
    let order = d.count("SELECT max(id) FROM alphadome.orders");
    let pay = pressed(
        &format!("pay_mpesa:{order}"),
        "Pay with M-Pesa",
        &format!("wamid.pay.{n}"),
    );
    assert_eq!(d.post(&pay).0, 200);
    order
}

fn payment_status(d: &Deployment, order: i64) -> String {
    d.db()
        .query_one(
            "SELECT coalesce(string_agg(status, ',' ORDER BY id), '') FROM alphadome.payments WHERE order_id = $1",
            &[&order],
        )
        .unwrap()
        .get(0)
}

#[test]
fn selling_from_price_question_to_mpesa_receipt_and_every_callback_case() {
    let daraja = Daraja::start(CONSUMER_KEY, CONSUMER_SECRET, SHORTCODE, PASSKEY);
    // Values as bind parameters: the credentials stay out of any statement's text.
    let setup = |db: &mut Client| {
        let kassangas: String = db
            .query_one(
                "SELECT alphadome.tenant_for_phone_number_id($1)::text",
                &[&KASSANGAS_NUMBER],
            )
            .unwrap()
            .get(0);
        db.execute(
            "UPDATE alphadome.bot_control_settings SET enable_payment_flow = true, mpesa_shortcode = $2
              WHERE bot_tenant_id = $1::text::uuid",
            &[&kassangas, &SHORTCODE],
        )
        .unwrap();
        db.execute(
            "INSERT INTO alphadome.products (bot_tenant_id, name, price, category, phrasings) VALUES
               ($1::text::uuid, 'Yamaha PSR-E373 keyboard', 32000, 'Keyboards', '{kinanda}'),
               ($1::text::uuid, 'Yamaha F310 acoustic guitar', 21000, 'Guitars', '{gitaa}')",
            &[&kassangas],
        )
        .unwrap();
        db.execute(
            "SELECT alphadome.set_mpesa_credentials($1::text::uuid, $2, $3, $4, 'sandbox')",
            &[&kassangas, &CONSUMER_KEY, &CONSUMER_SECRET, &PASSKEY],
        )
        .unwrap();
    };
    // Safaricom would call the relay's public https address; here the mock posts the path the
    // push named to the relay's own address.
    let d = Deployment::start_with(
        &[],
        setup,
        &[
            ("ALPHADOME_MPESA_URL", "https://api.safaricom.invalid"),
            ("ALPHADOME_MPESA_SANDBOX_URL", daraja.base.as_str()),
            ("ALPHADOME_MPESA_CALLBACK_URL", "http://127.0.0.1:9/mpesa"),
        ],
    );
    daraja.call_back_to(&d.relay.url);

    // A price question: answered from the products, the one it names.
    let question = text_now(PHONE, "How much is a Yamaha keyboard?", "wamid.price");
    assert_eq!(d.post(&question).0, 200);
    let price = wait_for_send(&d, "Our prices:");
    assert_eq!(
        price["text"]["body"],
        "Our prices:\n• Yamaha PSR-E373 keyboard: KES 32,000 (in stock)"
    );

    // "I want to buy": the product, and three buttons in Meta's interactive shape.
    let order = buy_and_press_pay(&d, &daraja, 1, Customer::Pays);
    let buttons = wait_for_send(&d, "How would you like to pay?");
    assert_eq!(buttons["type"], "interactive");
    let titles: Vec<&str> = buttons["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reply"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Pay with M-Pesa", "Pay in the shop", "Talk to a person"]
    );
    // The pay button: the push, the customer pays, the callback, his receipt, the owner's alert.
    d.wait_for("the payment", &format!("SELECT EXISTS (SELECT FROM alphadome.payments WHERE order_id = {order} AND status = 'paid')"), Duration::from_secs(20));
    let reference: String = d
        .db()
        .query_one(
            "SELECT reference FROM alphadome.orders WHERE id = $1",
            &[&order],
        )
        .unwrap()
        .get(0);
    let receipt = wait_for_send(&d, "Payment received");
    assert_eq!(
        receipt["text"]["body"],
        format!("Payment received: KES 21,000 for order {reference}. M-Pesa receipt NLJ7RT61SV. Thank you!")
    );
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM alphadome.orders WHERE id = {order} AND status = 'paid'"
        )),
        1
    );
    assert_eq!(d.count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'payment' AND text LIKE '%is paid%'"), 1);
    let push = daraja
        .calls()
        .into_iter()
        .find(|c| c.path == "/mpesa/stkpush/v1/processrequest")
        .unwrap();
    assert_eq!(push.body["Amount"], json!(21000));
    assert_eq!(push.body["AccountReference"], json!(reference));
    assert!(push.body["CallBackURL"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:9/mpesa/kassangas/"));

    // Cancelled (1032, as a string): told in plain words, with a button to try again.
    let order = buy_and_press_pay(&d, &daraja, 2, Customer::Cancels);
    d.wait_for("the cancellation", &format!("SELECT EXISTS (SELECT FROM alphadome.payments WHERE order_id = {order} AND status = 'failed' AND result_code = 1032)"), Duration::from_secs(20));
    let cancelled = wait_for_send(&d, "You cancelled the M-Pesa request");
    assert_eq!(
        cancelled["interactive"]["action"]["buttons"][0]["reply"],
        json!({"id": format!("pay_mpesa:{order}"), "title": "Try again"})
    );
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM alphadome.orders WHERE id = {order} AND status = 'failed'"
        )),
        1
    );

    // Sent twice: one payment, one receipt.
    let order = buy_and_press_pay(&d, &daraja, 3, Customer::PaysTwiceCalledBack);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while daraja.callbacks().len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "callbacks: {:?}",
            daraja.callbacks()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(payment_status(&d, order), "paid");
    d.wait_until_idle(Duration::from_secs(20));
    assert_eq!(
        sends_with(&d, "Payment received").len(),
        2,
        "one receipt per paid order"
    );

    // Another amount than asked: flagged, the order not paid, a person alerted.
    let order = buy_and_press_pay(&d, &daraja, 4, Customer::PaysWrongAmount);
    d.wait_for("the flag", &format!("SELECT EXISTS (SELECT FROM alphadome.payments WHERE order_id = {order} AND status = 'flagged')"), Duration::from_secs(20));
    assert_eq!(d.count(&format!("SELECT count(*) FROM alphadome.orders WHERE id = {order} AND status = 'awaiting_payment'")), 1);
    assert_eq!(d.count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'payment' AND text LIKE '%does not match%'"), 1);

    // No callback (the phone unreachable): the query, asked again while pending, says 1037.
    let order = buy_and_press_pay(&d, &daraja, 5, Customer::Unreachable);
    d.wait_for("the push", &format!("SELECT EXISTS (SELECT FROM alphadome.payments WHERE order_id = {order} AND status = 'pending')"), Duration::from_secs(20));
    let payment = d.count(&format!(
        "SELECT id FROM alphadome.payments WHERE order_id = {order}"
    ));
    let queries_done = format!(
        "SELECT count(*) FROM alphadome.outbox WHERE kind = 'payment.query' AND status = 'done'
            AND (payload ->> 'payment_id')::bigint = {payment}"
    );
    for round in 1..=2 {
        // The 90 (then 30) seconds' wait, skipped.
        d.wait_for(
            "the query",
            &format!("SELECT EXISTS (SELECT FROM alphadome.outbox WHERE kind = 'payment.query' AND status = 'queued' AND (payload ->> 'payment_id')::bigint = {payment})"),
            Duration::from_secs(20),
        );
        d.db()
            .execute("UPDATE alphadome.outbox SET run_at = now() WHERE kind = 'payment.query' AND status = 'queued'", &[])
            .unwrap();
        d.wait_for(
            "the query to run",
            &format!("SELECT ({queries_done}) >= {round}"),
            Duration::from_secs(20),
        );
    }
    d.wait_for("the query's answer", &format!("SELECT EXISTS (SELECT FROM alphadome.payments WHERE order_id = {order} AND status = 'failed' AND result_code = 1037)"), Duration::from_secs(20));
    wait_for_send(&d, "We could not reach your phone");

    // Every request to Daraja was right, and one token served them all.
    for call in daraja.calls() {
        assert!(
            call.problems.is_empty(),
            "{}: {:?}",
            call.path,
            call.problems
        );
    }
    assert_eq!(daraja.tokens_issued(), 1, "the token is cached");
    let queries = daraja
        .calls()
        .into_iter()
        .filter(|c| c.path == "/mpesa/stkpushquery/v1/query")
        .count();
    assert_eq!(queries, 2, "pending, then 1037");

    // A stranger's callback: 404, and nothing written.
    let writes = "SELECT (SELECT count(*) FROM alphadome.payments) + (SELECT count(*) FROM alphadome.outbox)
                        + (SELECT count(*) FROM alphadome.alerts) + (SELECT count(*) FROM alphadome.webhook_events)";
    let before = d.count(writes);
    let forged = json!({"Body": {"stkCallback": {"MerchantRequestID": "x", "CheckoutRequestID": "ws_CO_0004_mock",
                        "ResultCode": 0, "ResultDesc": "ok"}}}).to_string();
    for path in [
        format!("/mpesa/kassangas/{}", "0".repeat(64)),
        "/mpesa/kassangas/short".into(),
        format!("/mpesa/nobody/{}", "a".repeat(64)),
    ] {
        assert_eq!(
            d.relay.post(&path, forged.as_bytes(), None).0,
            404,
            "{path}"
        );
    }
    assert_eq!(d.count(writes), before);

    // No M-Pesa credential in the relay's log or the server's.
    d.assert_no_secret_in_logs();
    let callback_path = push.body["CallBackURL"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    for log in [d.relay.log_text(), d.cluster.server_log()] {
        for secret in [
            PASSKEY,
            CONSUMER_KEY,
            CONSUMER_SECRET,
            callback_path.as_str(),
            "mock-daraja-access-token-7f3a",
        ] {
            assert!(!log.contains(secret), "an M-Pesa secret is in a log");
        }
    }
}
