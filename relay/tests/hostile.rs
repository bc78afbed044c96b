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

/// A well-formed X-Hub-Signature-256 that signs nothing anyone sent.
const WRONG_SIGNATURE: &str =
    "sha256=0000000000000000000000000000000000000000000000000000000000000000";

/// A POST's line and headers for `path`, declaring `length` bytes (None: chunked), with the
/// extra header lines `extra` (each ending in \r\n).
fn post_head(d: &Deployment, path: &str, length: Option<u64>, extra: &str) -> String {
    let length = match length {
        Some(n) => format!("content-length: {n}\r\n"),
        None => "transfer-encoding: chunked\r\n".into(),
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{extra}{length}\r\n",
        d.relay.addr()
    )
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

/// 150 slow 4 MiB unsigned POSTs at once (chunked, so no declared length refuses them first):
/// each is refused before its body is read, memory stays under 100 MiB throughout, and comes
/// back within 20% of idle. Then bodies the relay must read whole (a well-formed, wrong
/// signature, 3 MB, 8 at a time): their memory is given back too.
#[test]
fn a_burst_of_large_bodies_leaves_memory_where_it_was() {
    let d = Deployment::start(&[]);
    let pid = d.relay.pid();
    std::thread::sleep(Duration::from_millis(500));
    let idle = alphadome_e2e::process_memory_mb(pid, "VmRSS");
    let piece = 64 << 10;
    let chunked = std::sync::Arc::new(
        format!("{piece:x}\r\n{}\r\n", "a".repeat(piece))
            .repeat(4 << 20 >> 16)
            .into_bytes(),
    );
    let unsigned = post_head(&d, "/webhook", None, "");
    let peak = hostile::peak_rss_mib_while(pid, || {
        let clients: Vec<_> = (0..150)
            .map(|_| {
                let (addr, head, body) = (d.relay.addr(), unsigned.clone(), chunked.clone());
                std::thread::spawn(move || {
                    hostile::raw(&addr, &head, &body, piece, Duration::from_millis(20))
                })
            })
            .collect();
        for client in clients {
            let (status, took) = client.join().unwrap();
            assert_eq!(status, Some(401));
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
    });
    let after = hostile::rss_mib_settled(pid, idle * 1.2, Duration::from_secs(10));
    alphadome_e2e::report(&format!(
        "relay RSS: idle {idle:.1} MiB, peak {peak:.1} MiB during 150 slow unsigned 4 MiB POSTs, {after:.1} MiB after"
    ));
    assert!(peak < 100.0, "peak {peak:.1} MiB (idle {idle:.1})");
    assert!(after < idle * 1.2, "{after:.1} MiB after (idle {idle:.1})");

    let large = std::sync::Arc::new(vec![b' '; 3_000_000]);
    let peak = hostile::peak_rss_mib_while(pid, || {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (url, body) = (d.relay.url.clone(), large.clone());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    for _ in 0..3 {
                        let status = client
                            .post(format!("{url}/webhook"))
                            .header("x-hub-signature-256", WRONG_SIGNATURE)
                            .body(body.to_vec())
                            .send()
                            .unwrap()
                            .status();
                        assert_eq!(status, 401);
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
    let after = hostile::rss_mib_settled(pid, idle * 1.2, Duration::from_secs(10));
    alphadome_e2e::report(&format!(
        "relay RSS: peak {peak:.1} MiB during 24 wrongly signed 3 MB POSTs, {after:.1} MiB after (idle {idle:.1})"
    ));
    assert!(after < idle * 1.2, "{after:.1} MiB after (idle {idle:.1})");
}

/// 8 clients post 3 MB bodies under a well-formed, wrong signature (read whole and hashed: the
/// costly kind; unsigned ones are refused unread) while /healthz is asked 200 times.
#[test]
fn health_stays_quick_while_eight_clients_post_large_bodies() {
    let d = Deployment::start(&[]);
    let mut quiet = health_samples(&d, 100);
    let quiet_p99 = hostile::quantile(&mut quiet, 0.99);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let large = std::sync::Arc::new(vec![b' '; 3_000_000]);
    let posted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (url, body, stop, posted) = (
                d.relay.url.clone(),
                large.clone(),
                stop.clone(),
                posted.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = client
                        .post(format!("{url}/webhook"))
                        .header("x-hub-signature-256", WRONG_SIGNATURE)
                        .body(body.to_vec())
                        .send();
                    assert_eq!(answer.map(|a| a.status().as_u16()).ok(), Some(401));
                    posted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut samples = health_samples(&d, 200);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in flood {
        client.join().unwrap();
    }
    let (median, p99) = (
        hostile::quantile(&mut samples, 0.5),
        hostile::quantile(&mut samples, 0.99),
    );
    alphadome_e2e::report(&format!(
        "/healthz under 8 clients posting 3 MB bodies ({} posted): median {median:?}, p99 {p99:?}; p99 without them {quiet_p99:?}",
        posted.load(std::sync::atomic::Ordering::Relaxed)
    ));
    // A machine busy with other work stalls any process now and then: the flood may not make
    // the p99 more than twice what it is without it.
    let allowed = HEALTH_P99.max(quiet_p99 * 2);
    assert!(
        p99 < allowed,
        "p99 {p99:?} (median {median:?}; without the flood {quiet_p99:?})"
    );
}

/// The p99 of /healthz under the flood: 20 ms in a release build (the issue's figure); a debug
/// build on a busy two-core machine is given twice that.
const HEALTH_P99: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(40)
} else {
    Duration::from_millis(20)
};

/// `n` timings of GET /healthz, 10 ms apart.
fn health_samples(d: &Deployment, n: usize) -> Vec<Duration> {
    let client = reqwest::blocking::Client::new();
    (0..n)
        .map(|_| {
            let started = Instant::now();
            let status = client
                .get(format!("{}/healthz", d.relay.url))
                .send()
                .unwrap()
                .status();
            assert_eq!(status, 200);
            let took = started.elapsed();
            std::thread::sleep(Duration::from_millis(10));
            took
        })
        .collect()
}

/// A 1 MB body under a wrong signature, posted to a slug with its own app secret, a tenant's
/// slug without one and a slug nobody has, 45 rounds of the three: the medians are within 10%
/// of each other, so timing does not tell which slugs exist or have a secret (before, only the
/// first was hashed). On a machine busy with other work a few milliseconds wander from round
/// to round, so each time is taken relative to its round's mean before the medians are
/// compared.
#[test]
fn every_slug_takes_the_same_time() {
    let d = Deployment::start(&[]);
    let body = vec![b' '; 1_000_000];
    let slugs = ["other-shop", "kassangas", "nobody"];
    let client = reqwest::blocking::Client::new();
    let post = |slug: &str| {
        let started = Instant::now();
        let status = client
            .post(format!("{}/webhook/{slug}", d.relay.url))
            .header("x-hub-signature-256", WRONG_SIGNATURE)
            .body(body.clone())
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 401, "{slug}");
        started.elapsed().as_secs_f64()
    };
    // Warms the connection and the caches.
    for slug in slugs {
        post(slug);
    }
    let mut took: Vec<Vec<Duration>> = vec![Vec::new(); slugs.len()];
    let mut relative: Vec<Vec<Duration>> = vec![Vec::new(); slugs.len()];
    for round in 0..45 {
        let mut times = [0.0; 3];
        // Each round in another order, so no slug always follows the same one.
        for i in (0..slugs.len()).map(|k| (k + round) % slugs.len()) {
            times[i] = post(slugs[i]);
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        for (i, t) in times.iter().enumerate() {
            took[i].push(Duration::from_secs_f64(*t));
            // As a Duration, for quantile: 1 s stands for the round's mean.
            relative[i].push(Duration::from_secs_f64(t / mean));
        }
    }
    let medians: Vec<Duration> = took.iter_mut().map(|t| hostile::quantile(t, 0.5)).collect();
    let ratios: Vec<f64> = relative
        .iter_mut()
        .map(|r| hostile::quantile(r, 0.5).as_secs_f64())
        .collect();
    alphadome_e2e::report(&format!(
        "1 MB to {slugs:?}: medians {medians:?}, relative to their round {ratios:.3?}"
    ));
    let (fastest, slowest) = (
        ratios.iter().cloned().fold(f64::MAX, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max),
    );
    assert!(
        slowest < fastest * 1.1,
        "{slugs:?}: {ratios:.3?} ({medians:?})"
    );
}
