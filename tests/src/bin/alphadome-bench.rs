//! `make bench`: throughput and latency of the message path on one throwaway cluster, each
//! figure beside a pgbench baseline run on the same cluster in the same run (these machines
//! are noisy: compare ratios, not absolute numbers).
//!
//! 1. pgbench, 8 clients: a transaction inserting one 1 KB jsonb row with pg_notify; the same
//!    without pg_notify; `SELECT alphadome.ingest_webhook(...)` of an FAQ question. Three
//!    rounds of the three, interleaved, 5 s each; the medians are reported, and the range of
//!    ingest's ratio over the rounds, since one round can be off by 15% here.
//! 2. Signed webhooks/s through the relay (8 concurrent posters), the worker answering meanwhile.
//! 3. FAQ-path replies at a steady 200 messages/s: replies/s, and p50/p99 from the webhook
//!    POST to the reply's arrival at the mock Graph API.
use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::Cluster;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NUMBER: &str = "106540352242922";
const SECRET: &str = "bench-app-secret";
const SECONDS: u64 = 10;
const CLIENTS: usize = 8;
const ROUNDS: usize = 3;
const ROUND_SECONDS: u64 = 5;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn pgbench(cluster: &Cluster, script: &str) -> f64 {
    let file = cluster.dir.join(format!("bench-{}.sql", script.len()));
    std::fs::write(&file, script).unwrap();
    let out = cluster.tool(
        "pgbench",
        &[
            "-d",
            "bench",
            "-n",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
            "-T",
            &ROUND_SECONDS.to_string(),
            "-f",
            file.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .expect("pgbench prints tps")
}

fn webhook(customer: u64, wamid: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": NUMBER, "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": customer.to_string()}],
            "messages": [{"from": customer.to_string(), "id": wamid, "timestamp": "1760000000", "type": "text",
                          "text": {"body": "What are your opening hours?"}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn post(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>) -> u16 {
    let signature = sign(&body);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// X-Hub-Signature-256 as Meta computes it.
fn sign(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let cluster = Cluster::start(&[
        "fsync=on",
        "max_connections=200",
        "log_min_messages=warning",
    ]);
    let mut db = cluster.create_database("bench");
    cluster.seed_kassangas("bench", &[("whatsapp_phone_number_id", NUMBER)]);
    db.batch_execute(
        "UPDATE alphadome.bot_control_settings SET max_messages_per_hour = 100000;
         CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
         CREATE TABLE bench_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz DEFAULT now());",
    )
    .unwrap();
    let kilobyte = format!(r#"{{"pad": "{}"}}"#, "x".repeat(1000));
    eprintln!("bench: pgbench baselines and ingest_webhook, {CLIENTS} clients, {ROUNDS} rounds of {ROUND_SECONDS} s each");
    let notify_script = format!("BEGIN;\nINSERT INTO bench_events (payload) VALUES ('{kilobyte}');\nSELECT pg_notify('bench', '');\nCOMMIT;\n");
    let insert_script = format!("INSERT INTO bench_events (payload) VALUES ('{kilobyte}');\n");
    // One literal, as the relay sends one parameter: pgbench puts :r into it (also inside
    // quotes). Built with || instead, each call paid for planning three text || bigint
    // concatenations (SQL functions, inlined by parsing their source), about a twentieth of
    // an ingest, which is the script's cost, not ingest's.
    let ingest_script = format!(
        "\\set r random(1, 999999999999)\nSELECT alphadome.ingest_webhook('{{\"object\":\"whatsapp_business_account\",\"entry\":[{{\"id\":\"1\",\"changes\":[{{\"field\":\"messages\",\"value\":{{\"messaging_product\":\"whatsapp\",\"metadata\":{{\"display_phone_number\":\"{NUMBER}\",\"phone_number_id\":\"{NUMBER}\"}},\"contacts\":[{{\"profile\":{{\"name\":\"B\"}},\"wa_id\":\":r\"}}],\"messages\":[{{\"from\":\":r\",\"id\":\"wamid.pgbench.:r\",\"timestamp\":\"1760000000\",\"type\":\"text\",\"text\":{{\"body\":\"What are your opening hours?\"}}}}]}}}}]}}]}}');\n"
    );
    let (mut notify_rates, mut insert_rates, mut ingest_rates, mut ingest_ratios) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let (notify, insert, ingest) = (
            pgbench(&cluster, &notify_script),
            pgbench(&cluster, &insert_script),
            pgbench(&cluster, &ingest_script),
        );
        ingest_ratios.push(ingest / notify);
        notify_rates.push(notify);
        insert_rates.push(insert);
        ingest_rates.push(ingest);
    }
    let (with_notify, without_notify, ingest) = (
        median(notify_rates),
        median(insert_rates),
        median(ingest_rates),
    );
    ingest_ratios.sort_by(f64::total_cmp);
    db.batch_execute("TRUNCATE alphadome.outbox; DELETE FROM alphadome.messages; DELETE FROM alphadome.conversations;").unwrap();

    let meta = Mock::meta_unchecked();
    let relay_bin = std::env::current_exe()
        .unwrap()
        .with_file_name("alphadome-relay");
    let env = [
        ("DATABASE_URL", cluster.url("relay_login", "bench")),
        ("META_GRAPH_URL", meta.base.clone()),
        ("META_APP_SECRET", SECRET.to_string()),
        ("ALPHADOME_CONCURRENCY", "32".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ];
    let relay = Relay::start(&relay_bin, &env, &cluster.dir.join("relay.log"));
    let url = format!("{}/webhook", relay.url);

    eprintln!("bench: signed webhooks through the relay, {CLIENTS} posters, {SECONDS} s");
    let accepted = AtomicU64::new(0);
    let next = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let client = reqwest::blocking::Client::new();
                while started.elapsed() < Duration::from_secs(SECONDS) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if post(
                        &client,
                        &url,
                        webhook(254_700_000_000 + n, &format!("wamid.load.{n}")),
                    ) == 200
                    {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let webhooks_per_second =
        accepted.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let drain = Instant::now();
    while db
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE status <> 'done'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            drain.elapsed() < Duration::from_secs(300),
            "the queue did not drain"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    eprintln!("bench: FAQ path at 200 messages/s for {SECONDS} s");
    let rate = 200u64;
    let total = rate * SECONDS;
    let before = meta.requests().len();
    let mut sent_at = std::collections::HashMap::new();
    let client = reqwest::blocking::Client::new();
    let start = Instant::now();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
        let url = &url;
        // The pacer hands message numbers to posters, so a slow answer does not slow the rate.
        let (job_tx, job_rx) = std::sync::mpsc::channel::<u64>();
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        for _ in 0..CLIENTS {
            let tx = tx.clone();
            let job_rx = job_rx.clone();
            let client = client.clone();
            s.spawn(move || loop {
                let Ok(n) = job_rx.lock().unwrap().recv() else {
                    return;
                };
                let wamid = format!("wamid.paced.{n}");
                let at = Instant::now();
                post(&client, url, webhook(254_710_000_000 + n, &wamid));
                tx.send((wamid, at)).unwrap();
            });
        }
        drop(tx);
        for n in 0..total {
            let due = start + Duration::from_micros(n * 1_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            job_tx.send(n).unwrap();
        }
        drop(job_tx);
        for (wamid, at) in rx {
            sent_at.insert(wamid, at);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let replies = loop {
        let replies: Vec<_> = meta.requests()[before..]
            .iter()
            .filter(|r| r.body.get("text").is_some())
            .cloned()
            .collect();
        if replies.len() as u64 >= total || Instant::now() > deadline {
            break replies;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut latencies: Vec<Duration> = replies
        .iter()
        .filter_map(|r| {
            r.body["context"]["message_id"]
                .as_str()
                .and_then(|w| sent_at.get(w))
                .map(|at| r.received_at - *at)
        })
        .collect();
    latencies.sort();
    let span = replies.iter().map(|r| r.received_at).max().unwrap() - start;
    let replies_per_second = replies.len() as f64 / span.as_secs_f64();

    println!();
    println!("AlphaDome benchmark ({CLIENTS} clients, one cluster, fsync on; pgbench: medians of {ROUNDS} interleaved {ROUND_SECONDS} s rounds; relay: {SECONDS} s)");
    println!(
        "{:<58} {:>10} {:>16} {:>16}",
        "what", "per second", "vs insert+notify", "vs plain insert"
    );
    let row = |what: &str, rate: f64| {
        println!(
            "{what:<58} {rate:>10.0} {:>15.2}x {:>15.2}x",
            rate / with_notify,
            rate / without_notify
        );
    };
    row(
        "pgbench: insert 1 KB jsonb + pg_notify (baseline)",
        with_notify,
    );
    row("pgbench: insert 1 KB jsonb, no notify", without_notify);
    row("pgbench: alphadome.ingest_webhook (FAQ question)", ingest);
    println!(
        "{:<58} {:>10} {:>16}",
        "  ingest / insert+notify, per round (lowest..highest)",
        "",
        format!("{:.2}..{:.2}x", ingest_ratios[0], ingest_ratios[ROUNDS - 1])
    );
    row(
        "relay: signed webhooks accepted (worker running)",
        webhooks_per_second,
    );
    println!(
        "relay: FAQ path at {rate} msg/s: {} of {total} replies, {replies_per_second:.0} replies/s, webhook→Graph p50 {:.1} ms, p99 {:.1} ms",
        replies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    drop(relay);
}
