//! What a stranger, or Meta in a bad mood, can send to the public webhook URL, each with the
//! answer and the rows it must leave (docs/security.md, "What the relay refuses"). Nothing a
//! sender controls may get a 500, or a 503 that Meta would retry for a week.
mod common;

use alphadome_e2e::hostile::{self, Service};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn webhook_with(messages: Value, contacts: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": KASSANGAS_NUMBER, "phone_number_id": KASSANGAS_NUMBER},
        "contacts": contacts, "messages": messages}}]}]})
}

fn text_message(from: Value, wamid: &str, text: &str) -> Value {
    json!({"from": from, "id": wamid, "timestamp": "1760000000", "type": "text", "text": {"body": text}})
}

/// Signed with the shared app's secret, as raw bytes.
fn post_raw(d: &Deployment, body: &[u8]) -> (u16, String) {
    d.relay
        .post("/webhook", body, Some(&Deployment::sign(body)))
}

fn last_outcome(d: &Deployment) -> Value {
    d.db()
        .query_one(
            "SELECT outcome FROM alphadome.webhook_events ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn faulty_messages_are_refused_with_the_reason_and_their_neighbours_recorded() {
    let d = Deployment::start(&[]);
    let body = webhook_with(
        json!([
            text_message(
                json!("254711000001"),
                "wamid.good.1",
                "What are your opening hours?"
            ),
            text_message(json!("254711000002"), "wamid.nul", "before\u{0}after"),
            text_message(json!("' OR 1=1 --"), "wamid.sql", "hello"),
            text_message(json!("abc"), "wamid.abc", "hello"),
            text_message(json!(""), "wamid.empty", "hello"),
            text_message(json!("9".repeat(129)), "wamid.long", "hello"),
            text_message(json!({"wa_id": "254711000003"}), "wamid.object", "hello"),
            text_message(json!("254711000004"), "wamid.good.2", "Do you deliver?"),
        ]),
        json!([{"profile": {"name": "Nul\u{0}Name"}, "wa_id": "254711000002"}]),
    );
    // serde writes the NUL as \u0000, the escape jsonb refuses.
    let text = body.to_string();
    assert!(text.contains("\\u0000"));
    let (status, answer) = post_raw(&d, text.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let counts: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        (counts["accepted"].as_i64(), counts["refused"].as_i64()),
        (Some(2), Some(6)),
        "{counts}"
    );
    let reasons: Vec<String> = last_outcome(&d)["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["refused_message"].as_str().unwrap_or("?"),
                n["reason"].as_str().unwrap_or("?")
            )
        })
        .collect();
    for expected in [
        "wamid.nul it holds \\u0000",
        "wamid.sql from is not a WhatsApp id",
        "wamid.abc from is not a WhatsApp id",
        "wamid.empty from is not a WhatsApp id",
        "wamid.long from is not a WhatsApp id",
        "wamid.object from is not a WhatsApp id",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(expected)),
            "{expected} in {reasons:?}"
        );
    }
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound'"),
        2
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.conversations"),
        2,
        "no stranger became a customer"
    );
    // Both good messages are answered; the kept payload shows the NUL as U+FFFD.
    d.meta.wait_until(LONG, "the two replies", |r| {
        r.iter().filter(|x| x.body.get("text").is_some()).count() == 2
    });
    let kept: String = d
        .db()
        .query_one(
            "SELECT payload::text FROM alphadome.webhook_events ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        kept.contains("before\u{fffd}after") && kept.contains("Nul\u{fffd}Name"),
        "{kept}"
    );
    d.assert_no_secret_in_logs();
}

#[test]
fn bodies_that_are_no_webhook_at_all_get_400_at_once_and_leave_nothing() {
    let d = Deployment::start(&[]);
    let deep = format!(
        "{{\"object\": \"whatsapp_business_account\", \"entry\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let deeper = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let bodies: [(&str, Vec<u8>); 5] = [
        ("10,000-deep nesting", deep.into_bytes()),
        ("50,000-deep nesting", deeper.into_bytes()),
        ("not UTF-8", b"{\"entry\": [\"\xff\xfe\"]}".to_vec()),
        ("not JSON", b"{\"entry\": [".to_vec()),
        (
            "no entry array",
            br#"{"object": "whatsapp_business_account"}"#.to_vec(),
        ),
    ];
    for (what, body) in bodies {
        let started = Instant::now();
        let (status, answer) = post_raw(&d, &body);
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(d.count("SELECT count(*) FROM alphadome.webhook_events"), 0);
    let log = d.cluster.server_log();
    assert!(
        !log.contains("backtrace") && !log.contains("stack depth"),
        "{log}"
    );
}

#[test]
fn five_thousand_messages_in_one_post_are_all_recorded() {
    let d = Deployment::start(&[]);
    let messages: Vec<Value> = (0..5_000)
        .map(|i| {
            text_message(
                json!(format!("2547{i:08}")),
                &format!("wamid.bulk.{i}"),
                "hello",
            )
        })
        .collect();
    let body = webhook_with(Value::Array(messages), json!([]));
    let started = Instant::now();
    let (status, answer) = post_raw(&d, body.to_string().as_bytes());
    assert_eq!(status, 200, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound'"),
        5_000
    );
}

/// Duplicate keys follow jsonb (the last one counts); names and texts with Unicode direction
/// marks are stored as sent and never interpreted.
#[test]
fn duplicate_keys_and_direction_tricks_are_stored_as_sent() {
    let d = Deployment::start(&[]);
    let trick = "\u{202e}evil\u{202c} \u{2066}ltr\u{2069}";
    let body = format!(
        r#"{{"object": "whatsapp_business_account", "entry": [{{"id": "1", "changes": [{{"field": "messages", "value": {{
            "messaging_product": "whatsapp",
            "metadata": {{"display_phone_number": "{n}", "phone_number_id": "{n}"}},
            "contacts": [{{"profile": {{"name": "{trick}"}}, "wa_id": "254711000009"}}],
            "messages": [{{"from": "254711000009", "id": "wamid.dup", "timestamp": "1760000000", "type": "text",
                           "text": {{"body": "first", "body": "{trick} second"}}}}]}}}}]}}]}}"#,
        n = KASSANGAS_NUMBER
    );
    let (status, answer) = post_raw(&d, body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let row = d
        .db()
        .query_one(
            "SELECT m.body, c.customer_name FROM alphadome.messages m
               JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
              WHERE m.wamid = 'wamid.dup'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("{trick} second"));
    assert_eq!(row.get::<_, String>(1), trick);
}

/// The relay as a hostile::Service: its health, and a signed webhook to POST.
fn service(d: &Deployment) -> Service {
    let body = text_webhook(KASSANGAS_NUMBER, "254711000001", "hello", "wamid.slow")
        .to_string()
        .into_bytes();
    Service {
        addr: d.relay.addr(),
        pid: d.relay.pid(),
        quick_path: "/healthz".into(),
        post_path: "/webhook".into(),
        post_headers: format!(
            "content-type: application/json\r\nx-hub-signature-256: {}\r\n",
            Deployment::sign(&body)
        ),
        body,
    }
}

#[test]
fn slow_and_silent_clients_are_cut_off_and_a_broken_body_is_not_too_large() {
    let d = Deployment::start(&[
        ("ALPHADOME_HEADER_TIMEOUT", "1"),
        ("ALPHADOME_BODY_TIMEOUT", "1"),
    ]);
    let relay = service(&d);
    hostile::slow_and_missing_headers_are_cut_off(&relay);
    hostile::a_slow_body_gets_408(&relay);
    // Half a body, then the client goes away: counted as aborted, not as too large.
    {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(d.relay.addr()).unwrap();
        stream
            .write_all(relay.head(Some(relay.body.len() as u64)).as_bytes())
            .unwrap();
        stream
            .write_all(&relay.body[..relay.body.len() / 2])
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = d.relay.admin_get("/metrics").1;
        if metrics.contains("alphadome_webhooks_total{result=\"aborted\"} 2") {
            assert!(!metrics.contains("too_large"), "{metrics}");
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.count("SELECT count(*) FROM alphadome.webhook_events"), 0);
    assert_eq!(d.relay.get("/healthz").0, 200);
}

#[test]
fn bodies_over_the_limit_unfinished_bodies_and_connections_beyond_the_cap_are_answered() {
    hostile::raise_open_files_limit(8192);
    let d = Deployment::start(&[
        ("ALPHADOME_HEADER_TIMEOUT", "1"),
        ("ALPHADOME_BODY_TIMEOUT", "1"),
        ("ALPHADOME_MAX_CONNECTIONS", "20"),
    ]);
    let relay = service(&d);
    hostile::a_body_over_the_limit_is_refused(&relay, alphadome_relay::http::BODY_LIMIT);
    // Webhooks of up to 4 MiB are taken by design: 40 half-sent 2 MB bodies are held until
    // their timeout.
    hostile::unfinished_large_bodies_are_answered(&relay, 100.0);
    hostile::idle_connections_beyond_the_cap_wait(&relay, 20);
    assert_eq!(d.count("SELECT count(*) FROM alphadome.webhook_events"), 0);
}

#[test]
fn a_thousand_idle_connections_leave_health_and_webhooks_quick_and_memory_bounded() {
    hostile::raise_open_files_limit(8192);
    let d = Deployment::start(&[]);
    hostile::idle_connections_leave_it_quick_and_bounded(&service(&d), 50.0, || {
        let (status, _) = d.post_text(
            KASSANGAS_NUMBER,
            "254711000001",
            "What are your opening hours?",
            "wamid.idle",
        );
        assert_eq!(status, 200);
    });
}

#[test]
fn unsigned_and_unknown_route_posts_are_answered_before_their_body_is_sent() {
    // The default body timeout (10 s): an answer within a second did not wait for the body.
    let d = Deployment::start(&[]);
    let signed = format!("x-hub-signature-256: {WRONG_SIGNATURE}\r\n");
    let cases = [
        ("no signature", "/webhook", "", 401),
        (
            "a signature that is no digest",
            "/webhook",
            "x-hub-signature-256: sha256=zz\r\n",
            401,
        ),
        (
            "no signature, a tenant's route",
            "/webhook/other-shop",
            "",
            401,
        ),
        (
            "no signature, a slug nobody has",
            "/webhook/nobody",
            "",
            401,
        ),
        ("an unknown route", "/nothing/here", signed.as_str(), 404),
    ];
    for (what, path, extra, expected) in cases {
        for length in [Some(3_000_000), None] {
            let head = post_head(&d, path, length, extra);
            let (status, took) = hostile::answer_before_the_body(&d.relay.addr(), &head);
            assert_eq!(status, Some(expected), "{what}, {length:?}");
            assert!(took < Duration::from_secs(1), "{what}: {took:?}");
        }
    }
    assert_eq!(d.count("SELECT count(*) FROM alphadome.webhook_events"), 0);
}
