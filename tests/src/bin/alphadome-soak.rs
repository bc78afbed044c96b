//! `make soak`: ten minutes (SOAK_SECONDS) of mixed traffic through a release relay: three
//! tenants, FAQ questions, LLM questions (a mock LLM answering in 200 ms), places and stickers,
//! Meta's status webhooks flowing back. Every minute it prints the relay's memory, the database
//! connections, the queue's depth, the sizes of the busiest tables and their dead tuples. It
//! fails when memory or connections grow without bound or the queue does not drain at the end.
use alphadome_e2e::mock::{Mock, Scripted};
use alphadome_e2e::relay::Relay;
use alphadome_e2e::Cluster;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NUMBERS: [&str; 3] = ["106540352242922", "400000000000001", "400000000000002"];
const SECRET: &str = "soak-app-secret";
const RATE: u64 = 100;

fn sign(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn message(n: u64) -> (String, serde_json::Value) {
    let number = NUMBERS[(n % 3) as usize];
    let from = format!("2547170{:05}", n % 50_000);
    let kind = match n % 20 {
        0..=15 => {
            serde_json::json!({"type": "text", "text": {"body": "What are your opening hours?"}})
        }
        16..=18 => {
            serde_json::json!({"type": "text", "text": {"body": "Which guitar suits a beginner with small hands?"}})
        }
        _ => {
            serde_json::json!({"type": "location", "location": {"latitude": -1.28, "longitude": 36.82, "name": "Moi Avenue"}})
        }
    };
    let mut m = kind;
    m["from"] = from.clone().into();
    m["id"] = format!("wamid.soak.{n}").into();
    m["timestamp"] = "1760000000".into();
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": number, "phone_number_id": number},
        "contacts": [{"profile": {"name": "Soak"}, "wa_id": from}], "messages": [m]}}]}]});
    (number.to_string(), body)
}

fn rss_mb(pid: u32) -> f64 {
    alphadome_e2e::process_memory_mb(pid, "VmRSS")
}

struct Sample {
    minute: u64,
    rss: f64,
    connections: i64,
    queue: i64,
    tables_mb: f64,
    indexes_mb: f64,
    dead_tuples: i64,
}

fn sample(db: &mut postgres::Client, pid: u32, minute: u64) -> Sample {
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = 'soak'),
                    (SELECT count(*) FROM alphadome.outbox WHERE status IN ('queued', 'running')),
                    (SELECT sum(pg_table_size(relid))::float8 / 1048576 FROM pg_stat_user_tables WHERE schemaname = 'alphadome'),
                    (SELECT sum(pg_indexes_size(relid))::float8 / 1048576 FROM pg_stat_user_tables WHERE schemaname = 'alphadome'),
                    (SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = 'alphadome')",
            &[],
        )
        .unwrap();
    Sample {
        minute,
        rss: rss_mb(pid),
        connections: row.get(0),
        queue: row.get(1),
        tables_mb: row.get(2),
        indexes_mb: row.get(3),
        dead_tuples: row.get(4),
    }
}

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let cluster = Cluster::start(&[
        "fsync=on",
        "log_min_messages=warning",
        "autovacuum_naptime=10",
    ]);
    let mut db = cluster.create_database("soak");
    cluster.seed_kassangas("soak", &[("whatsapp_phone_number_id", NUMBERS[0])]);
    for (i, number) in NUMBERS[1..].iter().enumerate() {
        let id: String = db
            .query_one("SELECT alphadome.create_tenant($1, $1, $2, $3, 'EAAsoak-token-not-a-secret', 'soak-ai-key')::text", &[&format!("soak-{i}"), &format!("07340000{i:02}"), number])
            .unwrap()
            .get(0);
        db.execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer) VALUES ($1::text::uuid, 'faq', 'What are your opening hours?', 'Open 8 to 8.')",
            &[&id],
        )
        .unwrap();
    }
    db.batch_execute(
        "UPDATE alphadome.bot_control_settings SET business_hours = NULL, max_messages_per_hour = 100000,
                type_replies = '{\"location\": \"Thanks for the pin!\"}';
         CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;",
    )
    .unwrap();
    let meta = Mock::meta_unchecked();
    let llm = Mock::llm();
    llm.always(Some(Scripted {
        status: 200,
        body: serde_json::json!({"id": "chatcmpl-soak", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Try a 3/4 classical guitar.", "refusal": null}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 12, "total_tokens": 312}}),
        delay: Duration::from_millis(200),
    }));
    let relay = Relay::start(
        &std::env::current_exe()
            .unwrap()
            .with_file_name("alphadome-relay"),
        &[
            ("DATABASE_URL", cluster.url("relay_login", "soak")),
            ("META_GRAPH_URL", meta.base.clone()),
            ("META_APP_SECRET", SECRET.to_string()),
            ("LLM_BASE_URL", llm.base.clone()),
            ("ALPHADOME_PRUNE_SECONDS", "60".to_string()),
            ("RUST_LOG", "warn".to_string()),
        ],
        &cluster.dir.join("relay.log"),
    );
    meta.send_statuses(vec![relay.url.clone()], SECRET);
    let pid = relay.pid();
    let url = format!("{}/webhook", relay.url);
    eprintln!("soak: {RATE} msg/s of mixed traffic for {seconds} s");
    println!(
        "{:>6} {:>9} {:>12} {:>7} {:>10} {:>11} {:>12}",
        "minute", "relay MB", "connections", "queue", "tables MB", "indexes MB", "dead tuples"
    );
    let running = AtomicBool::new(true);
    let sent = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let mut samples = Vec::new();
    let started = Instant::now();
    std::thread::scope(|s| {
        let (running, sent, refused, url) = (&running, &sent, &refused, &url);
        for lane in 0..4u64 {
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut n = lane;
                while running.load(Ordering::Relaxed) {
                    let due = started + Duration::from_micros(n * 1_000_000 / RATE);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let (_, body) = message(n);
                    let body = body.to_string();
                    let ok = client
                        .post(url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", sign(body.as_bytes()))
                        .body(body)
                        .send()
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        sent.fetch_add(1, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 4;
                }
            });
        }
        for minute in 1..=seconds.div_ceil(60) {
            std::thread::sleep(Duration::from_secs(60).min(
                Duration::from_secs(seconds) - started.elapsed().min(Duration::from_secs(seconds)),
            ));
            let at = sample(&mut db, pid, minute);
            println!(
                "{:>6} {:>9.1} {:>12} {:>7} {:>10.1} {:>11.1} {:>12}",
                at.minute,
                at.rss,
                at.connections,
                at.queue,
                at.tables_mb,
                at.indexes_mb,
                at.dead_tuples
            );
            samples.push(at);
        }
        running.store(false, Ordering::Relaxed);
    });
    let drain_started = Instant::now();
    let drained = alphadome_e2e::wait_for_queue_to_drain(&mut db, Duration::from_secs(60)).is_ok();
    let end = sample(&mut db, pid, 0);
    let first = samples.first().expect("at least one minute");
    println!(
        "soak: {} webhooks accepted, {} refused; relay {:.1} MB after minute 1, {:.1} MB at the end; connections {} then {}; queue drained: {drained} ({:.1} s)",
        sent.load(Ordering::Relaxed), refused.load(Ordering::Relaxed), first.rss, end.rss, first.connections, end.connections, drain_started.elapsed().as_secs_f64()
    );
    let mut problems = Vec::new();
    if end.rss > first.rss * 2.0 + 10.0 {
        problems.push(format!(
            "relay memory grew from {:.1} to {:.1} MB",
            first.rss, end.rss
        ));
    }
    if end.connections > first.connections + 5 {
        problems.push(format!(
            "connections grew from {} to {}",
            first.connections, end.connections
        ));
    }
    if !drained {
        problems.push("the queue did not drain within 60 s".into());
    }
    if refused.load(Ordering::Relaxed) > 0 {
        problems.push(format!(
            "{} webhooks were not accepted",
            refused.load(Ordering::Relaxed)
        ));
    }
    drop(relay);
    if !problems.is_empty() {
        eprintln!("soak: FAILED: {}", problems.join("; "));
        std::process::exit(1);
    }
    println!("soak: ok");
}
