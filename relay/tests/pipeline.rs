//! From Meta's webhook to the customer's reply, end to end: real Postgres, the relay, mock
//! Meta and mock LLM over HTTP.
mod common;

use alphadome_e2e::mock::{meta_error, Scripted};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = alphadome_e2e::repo_root().join("tests/fixtures/whatsapp");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_signed_and_posted_is_accepted_and_kept() {
    let d = Deployment::start(&[]);
    let mut db = d.db();
    // The fixtures' other numbers become tenants too.
    for (i, number) in ["123456123", "104469288944395", "277321005464405"]
        .iter()
        .enumerate()
    {
        db.execute(
            "SELECT alphadome.create_tenant($1, 'Fixture', $2, $3, 'EAAtest-fixture-token')",
            &[&format!("fixture-{i}"), &format!("07440000{i:02}"), number],
        )
        .unwrap();
    }
    let files = fixtures();
    assert_eq!(files.len(), 33);
    let mut distinct = std::collections::HashSet::new();
    let mut kept = 0;
    for (name, body) in &files {
        let (status, answer) = d.post(body);
        assert_eq!(status, 200, "{name}: {answer}");
        // Kept whole unless its message rows hold all of it (new messages only, issue 27).
        let answer: Value = serde_json::from_str(&answer).unwrap();
        if answer["event_id"].is_i64() {
            kept += 1;
        } else {
            assert!(answer["accepted"].as_i64().unwrap() > 0, "{name}: {answer}");
        }
        let payload: Value = serde_json::from_slice(body).unwrap();
        for change in payload["entry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["changes"].as_array().unwrap())
        {
            for m in change["value"]["messages"].as_array().into_iter().flatten() {
                distinct.insert((
                    change["value"]["metadata"]["phone_number_id"].to_string(),
                    m["id"].to_string(),
                ));
            }
        }
    }
    let events: i64 = db
        .query_one("SELECT count(*) FROM alphadome.webhook_events", &[])
        .unwrap()
        .get(0);
    assert_eq!(events, kept, "every payload with an event id is kept");
    assert!(
        (5..33).contains(&kept),
        "{kept}: the plain messages are left to their rows"
    );
    // Inbound messages of the messages field (the app's history imports its own, below).
    let inbound: i64 = db
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound' AND decision IS DISTINCT FROM 'history'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        inbound as usize,
        distinct.len(),
        "one row per (tenant, wamid): Meta's examples reuse some ids"
    );

    // File 30 is byte-exact: it verified above with the real secret. One byte changed: 401, nothing stored.
    let (_, original) = files.iter().find(|(n, _)| n.starts_with("30_")).unwrap();
    let mut changed = original.clone();
    changed[200] = if changed[200] == b'1' { b'2' } else { b'1' };
    let signature = alphadome_relay::http::signature::sign(APP_SECRET.as_bytes(), original);
    assert_eq!(d.relay.post("/webhook", &changed, Some(&signature)).0, 401);
    assert_eq!(
        d.relay.post("/webhook", original, None).0,
        401,
        "no signature"
    );
    let events: i64 = db
        .query_one("SELECT count(*) FROM alphadome.webhook_events", &[])
        .unwrap()
        .get(0);
    assert_eq!(events, kept, "a refused webhook stores nothing");
    // Malformed and oversized bodies.
    let not_json = b"{not json";
    assert_eq!(
        d.relay
            .post("/webhook", not_json, Some(&Deployment::sign(not_json)))
            .0,
        400
    );
    let not_webhook = br#"{"hello": "world"}"#;
    assert_eq!(
        d.relay
            .post(
                "/webhook",
                not_webhook,
                Some(&Deployment::sign(not_webhook))
            )
            .0,
        400
    );
    // Over the 3 MiB limit, with a well-formed signature (one that is not is refused unread): a
    // declared length is refused before any of the body is read; a body without one, once the
    // limit is passed.
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: relay\r\ncontent-type: application/json\r\nx-hub-signature-256: sha256={}\r\n",
        "0".repeat(64)
    );
    let (status, took) = d.relay.raw(
        &format!("{head}content-length: {}\r\n\r\n", 10_000_000_000u64),
        b"",
        1,
        Duration::ZERO,
    );
    assert_eq!(status, Some(413));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let chunked = format!("{:x}\r\n{}\r\n", 64 << 10, " ".repeat(64 << 10)).repeat(80);
    let (status, _) = d.relay.raw(
        &format!("{head}transfer-encoding: chunked\r\n\r\n"),
        chunked.as_bytes(),
        64 << 10,
        Duration::ZERO,
    );
    assert_eq!(status, Some(413));

    d.wait_until_idle(LONG);
    let requests = d.meta.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert!(
            r.violations.is_empty(),
            "a request to Meta breaks its spec: {:?} {}",
            r.violations,
            r.body
        );
    }
    d.assert_no_secret_in_logs();
}

#[test]
fn kassangas_answers_from_the_faq_without_the_llm_and_otherwise_asks_the_llm_once() {
    let d = Deployment::start(&[]);
    assert_eq!(
        d.post_text(
            KASSANGAS_NUMBER,
            "254711111111",
            "What are your opening hours?",
            "wamid.e2e.hours"
        )
        .0,
        200
    );
    let requests = d.meta.wait_until(LONG, "the FAQ reply", |r| {
        r.iter().any(|x| x.body.get("text").is_some())
    });
    let send = requests
        .iter()
        .find(|r| r.body.get("text").is_some())
        .unwrap();
    assert_eq!(send.path, format!("/v23.0/{KASSANGAS_NUMBER}/messages"));
    assert_eq!(
        send.authorization.as_deref(),
        Some(format!("Bearer {KASSANGAS_TOKEN}").as_str())
    );
    assert_eq!(send.body["text"]["body"], OPENING_HOURS_ANSWER);
    assert_eq!(send.body["to"], "254711111111");
    assert_eq!(send.body["context"]["message_id"], "wamid.e2e.hours");
    // The send names its job, which Meta echoes in the status webhooks (relay.md: sending once).
    let job: i64 = d
        .db()
        .query_one(
            "SELECT o.id FROM alphadome.outbox o JOIN alphadome.messages m
                 ON m.bot_tenant_id = o.bot_tenant_id AND m.id = (o.payload ->> 'inbound_message_id')::bigint
              WHERE o.kind = 'reply.send' AND m.wamid = 'wamid.e2e.hours'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(send.body["biz_opaque_callback_data"], format!("job:{job}"));
    assert!(
        requests
            .iter()
            .any(|r| r.body["status"] == "read" && r.body["message_id"] == "wamid.e2e.hours"),
        "read receipt"
    );
    assert!(d.llm.requests().is_empty(), "no LLM call for an FAQ answer");

    let question = "Can you recommend a violin for my daughter?";
    d.post_text(
        KASSANGAS_NUMBER,
        "254711111111",
        question,
        "wamid.e2e.violin",
    );
    let sends = d.meta.wait_until(LONG, "the LLM reply", |r| {
        r.iter().filter(|x| x.body.get("text").is_some()).count() == 2
    });
    let llm = d.llm.requests();
    assert_eq!(llm.len(), 1, "the LLM is called once");
    assert!(
        llm[0].violations.is_empty(),
        "the LLM request breaks OpenAI's spec: {:?}",
        llm[0].violations
    );
    assert_eq!(llm[0].path, "/v1/chat/completions");
    assert_eq!(
        llm[0].authorization.as_deref(),
        Some(format!("Bearer {KASSANGAS_AI_KEY}").as_str())
    );
    let messages = llm[0].body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .contains("Kassangas"));
    assert_eq!(messages.last().unwrap()["content"], question);
    let reply = sends
        .iter()
        .filter(|x| x.body.get("text").is_some())
        .nth(1)
        .unwrap();
    assert_eq!(
        reply.body["text"]["body"],
        "Our violins start at KES 15,000."
    );
    assert_eq!(reply.body["context"]["message_id"], "wamid.e2e.violin");
    for r in d.meta.requests() {
        assert!(r.violations.is_empty(), "{:?}", r.violations);
    }
    d.wait_until_idle(LONG);
    let logged = d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'outbound' AND status = 'sent' AND wamid LIKE 'wamid.mock.%'");
    assert_eq!(
        logged, 2,
        "both replies are in the message log with Meta's ids"
    );
    // The LLM's usage (the mock's: 10 prompt, 8 completion tokens) is metered.
    let metered = d.count(
        "SELECT sum(prompt_tokens * 1000 + completion_tokens)::bigint FROM alphadome.usage_daily",
    );
    assert_eq!(metered, 10_008);
    // With the model it asked for, which usage_cost prices the tokens by.
    let priced_by_model = d.count(
        "SELECT count(*) FROM alphadome.outbox o JOIN alphadome.bot_tenants t ON t.id = o.bot_tenant_id
          WHERE o.kind = 'reply.generate' AND o.status = 'done' AND o.result ->> 'model' = t.ai_model",
    );
    assert_eq!(priced_by_model, 1);
    d.assert_no_secret_in_logs();
}

#[test]
fn one_post_for_two_tenants_answers_each_with_its_own_number_and_token() {
    let d = Deployment::start(&[]);
    let mut both = text_webhook(
        KASSANGAS_NUMBER,
        "254722000001",
        "What are your opening hours?",
        "wamid.e2e.k",
    );
    let other = text_webhook(OTHER_NUMBER, "254722000002", "hello", "wamid.e2e.o");
    both["entry"]
        .as_array_mut()
        .unwrap()
        .push(other["entry"][0].clone());
    assert_eq!(d.post(both.to_string().as_bytes()).0, 200);
    let sends = d.meta.wait_until(LONG, "two replies", |r| {
        r.iter().filter(|x| x.body.get("text").is_some()).count() == 2
    });
    for send in sends.iter().filter(|x| x.body.get("text").is_some()) {
        let (number, token) = if send.body["to"] == "254722000001" {
            (KASSANGAS_NUMBER, KASSANGAS_TOKEN)
        } else {
            (OTHER_NUMBER, OTHER_TOKEN)
        };
        assert_eq!(send.path, format!("/v23.0/{number}/messages"));
        assert_eq!(
            send.authorization.as_deref(),
            Some(format!("Bearer {token}").as_str())
        );
    }
    d.assert_no_secret_in_logs();
}

#[test]
fn the_same_webhook_five_times_at_once_is_one_message_one_reply_one_llm_call() {
    let d = Deployment::start(&[]);
    let body = text_webhook(
        KASSANGAS_NUMBER,
        "254733000001",
        "Which drum kit suits a church?",
        "wamid.e2e.dup",
    )
    .to_string();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..5)
            .map(|_| s.spawn(|| d.post(body.as_bytes()).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses, [200; 5]);
    d.meta.wait_until(LONG, "the reply", |r| {
        r.iter().any(|x| x.body.get("text").is_some())
    });
    d.wait_until_idle(LONG);
    std::thread::sleep(Duration::from_millis(500));
    let inbound = d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound'");
    assert_eq!(inbound, 1);
    assert_eq!(d.meta.sends().len(), 1, "one reply");
    assert!(d.llm.requests().len() <= 1, "at most one LLM call");
}

#[test]
fn meta_errors_back_off_pause_the_tenant_or_fail_for_good() {
    let d = Deployment::start(&[]);
    let mut db = d.db();
    // 130429 (throughput), then success: sent after a backoff.
    d.meta.push(
        400,
        meta_error(130429, "Cloud API message throughput has been reached."),
    );
    d.post_text(
        KASSANGAS_NUMBER,
        "254744000001",
        "What are your opening hours?",
        "wamid.e2e.throttle",
    );
    d.meta.wait_until(LONG, "the retried send", |r| {
        r.iter().filter(|x| x.body.get("text").is_some()).count() == 2
    });
    d.wait_until_idle(LONG);
    let attempts: i32 = db
        .query_one("SELECT attempts FROM alphadome.outbox WHERE payload ->> 'context_wamid' = 'wamid.e2e.throttle' AND status = 'done'", &[])
        .unwrap()
        .get(0);
    assert_eq!(attempts, 2);

    // 131047 (24-hour window closed): a permanent failure with that reason.
    d.meta.push(400, meta_error(131047, "Message failed to send because more than 24 hours have passed since the customer last replied to this number."));
    d.post_text(
        KASSANGAS_NUMBER,
        "254744000002",
        "What are your opening hours?",
        "wamid.e2e.window",
    );
    d.wait_for(
        "the dead letter",
        "SELECT EXISTS (SELECT FROM alphadome.outbox WHERE payload ->> 'context_wamid' = 'wamid.e2e.window' AND status = 'dead' AND last_error ->> 'code' = '131047')",
        LONG,
    );
    let failed: String = db
        .query_one("SELECT error ->> 'message' FROM alphadome.messages WHERE direction = 'outbound' AND status = 'failed'", &[])
        .unwrap()
        .get(0);
    assert!(failed.contains("24 hours"), "{failed}");

    // 190 (token expired): Kassangas is marked, its sends pause, an alert is recorded; the other tenant goes on.
    d.meta.push(
        401,
        meta_error(190, "Error validating access token: Session has expired."),
    );
    d.post_text(
        KASSANGAS_NUMBER,
        "254744000003",
        "What are your opening hours?",
        "wamid.e2e.expired",
    );
    d.wait_for(
        "needs_reauth",
        "SELECT credential_status = 'needs_reauth' FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
        LONG,
    );
    let alerts: i64 = db.query_one("SELECT count(*) FROM alphadome.alerts WHERE kind = 'token_refused' AND text LIKE '%refused the WhatsApp access token%'", &[]).unwrap().get(0);
    assert_eq!(alerts, 1);
    let before = d.meta.sends().len();
    d.post_text(OTHER_NUMBER, "254744000004", "hello", "wamid.e2e.other");
    d.meta.wait_until(LONG, "the other tenant's reply", |r| {
        r.iter()
            .any(|x| x.body["context"]["message_id"] == "wamid.e2e.other")
    });
    std::thread::sleep(Duration::from_millis(800));
    let kassangas_sends_since = d.meta.sends()[before..]
        .iter()
        .filter(|r| r.path.contains(KASSANGAS_NUMBER))
        .count();
    assert_eq!(kassangas_sends_since, 0, "the paused tenant sends nothing");
    d.assert_no_secret_in_logs();
}

#[test]
fn llm_failures_retry_and_a_dead_llm_still_gets_the_customer_an_answer() {
    let d = Deployment::start(&[
        ("ALPHADOME_RETRY_BASE_SECONDS", "0"),
        ("ALPHADOME_LLM_TIMEOUT", "1"),
    ]);
    let server_error = json!({"error": {"message": "The server had an error", "type": "server_error", "param": null, "code": null}});
    d.llm.push(500, server_error.clone());
    d.llm.push(500, server_error);
    d.post_text(
        KASSANGAS_NUMBER,
        "254755000001",
        "Do you sell ukuleles?",
        "wamid.e2e.llm500",
    );
    let sends = d.meta.wait_until(LONG, "the reply", |r| {
        r.iter().any(|x| {
            x.body["context"]["message_id"] == "wamid.e2e.llm500" && x.body.get("text").is_some()
        })
    });
    assert_eq!(d.llm.requests().len(), 3, "two failures, then the answer");
    let replies: Vec<_> = sends
        .iter()
        .filter(|x| {
            x.body["context"]["message_id"] == "wamid.e2e.llm500" && x.body.get("text").is_some()
        })
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].body["text"]["body"],
        "Our violins start at KES 15,000."
    );

    // The LLM stops answering in time: after the last attempt, the fallback and an alert.
    d.llm.always(Some(Scripted {
        status: 200,
        body: json!({}),
        delay: Duration::from_secs(3),
    }));
    d.post_text(
        KASSANGAS_NUMBER,
        "254755000002",
        "Do you sell harps?",
        "wamid.e2e.llmdead",
    );
    let sends = d.meta.wait_until(LONG, "the fallback", |r| {
        r.iter()
            .any(|x| x.body["context"]["message_id"] == "wamid.e2e.llmdead")
    });
    d.wait_for(
        "the alert",
        "SELECT EXISTS (SELECT FROM alphadome.alerts WHERE kind = 'llm_failed' AND text LIKE '%AI could not answer%')",
        LONG,
    );
    let fallback = sends
        .iter()
        .find(|x| x.body["context"]["message_id"] == "wamid.e2e.llmdead")
        .unwrap();
    assert!(fallback.body["text"]["body"]
        .as_str()
        .unwrap()
        .starts_with("Thanks for your message!"));
    let attempts: i32 = d
        .db()
        .query_one("SELECT attempts FROM alphadome.outbox WHERE kind = 'reply.generate' AND payload ->> 'context_wamid' = 'wamid.e2e.llmdead'", &[])
        .unwrap()
        .get(0);
    assert_eq!(attempts, 5);
    d.assert_no_secret_in_logs();
}
