//! Webhooks that arrive together are committed together (src/batch.rs), and every guarantee of
//! one-by-one still holds: a 200 only after its own commit, a bad payload failing alone, a lone
//! POST not waiting for company, nothing acknowledged lost when the relay is killed mid-batch.
mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Mutex;

/// (batches, statements) the relay has committed for webhooks so far (its metrics).
fn ingest_batches(d: &Deployment) -> (u64, u64) {
    let (_, text) = d.relay.admin_get("/metrics");
    let read = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("statement=\"ingest_webhook\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    (
        read("alphadome_batch_size_count"),
        read("alphadome_batch_size_sum"),
    )
}

fn webhook(n: usize) -> Vec<u8> {
    text_webhook(
        KASSANGAS_NUMBER,
        &format!("2547120{n:05}"),
        "What are your opening hours?",
        &format!("wamid.batch.{n}"),
    )
    .to_string()
    .into_bytes()
}

#[test]
fn concurrent_webhooks_are_committed_together_and_each_answered_after_its_commit() {
    // One lane: everything that arrives while it commits waits for the next batch.
    let d = Deployment::start(&[("ALPHADOME_INGEST_LANES", "1")]);
    let seen_uncommitted = Mutex::new(Vec::new());
    let start = std::sync::Barrier::new(40);
    std::thread::scope(|s| {
        for n in 0..40 {
            let (d, seen, start) = (&d, &seen_uncommitted, &start);
            s.spawn(move || {
                let (client, body) = (reqwest::blocking::Client::new(), webhook(n));
                let mut db = d.db();
                start.wait();
                let response = client
                    .post(format!("{}/webhook", d.relay.url))
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", Deployment::sign(&body))
                    .body(body)
                    .send()
                    .unwrap();
                let (status, body) = (response.status().as_u16(), response.text().unwrap());
                assert_eq!(status, 200, "{body}");
                assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["accepted"], 1);
                // Another session sees it the moment the 200 arrives: it was committed first.
                // (A webhook of new messages only is kept as its message rows: issue 27.)
                let visible: i64 = db
                    .query_one(
                        "SELECT count(*) FROM alphadome.messages WHERE wamid = $1",
                        &[&format!("wamid.batch.{n}")],
                    )
                    .unwrap()
                    .get(0);
                if visible != 1 {
                    seen.lock().unwrap().push(n);
                }
            });
        }
    });
    assert!(
        seen_uncommitted.lock().unwrap().is_empty(),
        "answered before commit: {:?}",
        seen_uncommitted.lock().unwrap()
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE wamid LIKE 'wamid.batch.%'"),
        40
    );
    let (batches, statements) = ingest_batches(&d);
    assert_eq!(statements, 40);
    assert!(
        batches < 40,
        "40 concurrent webhooks took {batches} commits: some were committed together"
    );
}

#[test]
fn a_bad_payload_in_a_batch_fails_alone_and_a_lone_post_goes_at_once() {
    let d = Deployment::start(&[("ALPHADOME_INGEST_LANES", "1")]);
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let bad =
        format!(r#"{{"object": "whatsapp_business_account", "entry": {nested}}}"#).into_bytes();
    let statuses = Mutex::new(Vec::new());
    // A webhook of 3,000 messages keeps the one lane busy; the 30 sent meanwhile wait together.
    let mut big = text_webhook(KASSANGAS_NUMBER, "254712999999", "hello", "wamid.big.0");
    let message = big["entry"][0]["changes"][0]["value"]["messages"][0].clone();
    big["entry"][0]["changes"][0]["value"]["messages"] = (0..3000)
        .map(|i| {
            let mut m = message.clone();
            m["id"] = format!("wamid.big.{i}").into();
            m
        })
        .collect();
    let big = big.to_string().into_bytes();
    // Each poster has its client ready (making one takes milliseconds) and waits for the word.
    let go = std::sync::Barrier::new(31);
    std::thread::scope(|s| {
        let (deployment, big) = (&d, &big);
        s.spawn(move || assert_eq!(deployment.post(big).0, 200));
        for n in 0..30 {
            let (statuses, bad, go, url) = (&statuses, &bad, &go, &d.relay.url);
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                let body = if n % 10 == 5 {
                    bad.clone()
                } else {
                    webhook(100 + n)
                };
                go.wait();
                let status = client
                    .post(format!("{url}/webhook"))
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", Deployment::sign(&body))
                    .body(body)
                    .send()
                    .unwrap()
                    .status()
                    .as_u16();
                statuses.lock().unwrap().push((n, status));
            });
        }
        // The big one is being ingested by now.
        std::thread::sleep(std::time::Duration::from_millis(100));
        go.wait();
    });
    for (n, status) in statuses.into_inner().unwrap() {
        assert_eq!(status, if n % 10 == 5 { 400 } else { 200 }, "webhook {n}");
    }
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE wamid LIKE 'wamid.batch.%'"),
        27,
        "every good one is recorded"
    );
    let (batches, statements) = ingest_batches(&d);
    assert!(
        statements > batches,
        "some were batched ({statements} in {batches})"
    );
    // One at a time: each is a batch of one, committed without waiting for company.
    for n in 0..5 {
        assert_eq!(d.post(&webhook(200 + n)).0, 200);
    }
    let (after_batches, after_statements) = ingest_batches(&d);
    assert_eq!(
        (after_batches - batches, after_statements - statements),
        (5, 5)
    );
}

#[test]
fn killing_the_relay_mid_batch_loses_no_acknowledged_webhook() {
    let mut d = Deployment::start(&[("ALPHADOME_INGEST_LANES", "1")]);
    let acknowledged = Mutex::new(Vec::new());
    let relay_url = d.relay.url.clone();
    std::thread::scope(|s| {
        for poster in 0..8 {
            let (acknowledged, url) = (&acknowledged, &relay_url);
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for i in 0..200 {
                    let n = 1000 + poster * 200 + i;
                    let body = webhook(n);
                    let sent = client
                        .post(format!("{url}/webhook"))
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", Deployment::sign(&body))
                        .body(body)
                        .send();
                    match sent {
                        Ok(r) if r.status().as_u16() == 200 => acknowledged
                            .lock()
                            .unwrap()
                            .push(format!("wamid.batch.{n}")),
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            });
        }
        // Killed mid-stream: once webhooks are being acknowledged (on a busy machine the first
        // may take a while), a little later.
        let started = std::time::Instant::now();
        while acknowledged.lock().unwrap().is_empty() && started.elapsed().as_secs() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        d.relay.kill();
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        !acknowledged.is_empty(),
        "some webhooks were acknowledged before the kill"
    );
    let recorded: i64 = d
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE wamid = ANY($1)",
            &[&acknowledged],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        recorded as usize,
        acknowledged.len(),
        "every acknowledged webhook is recorded"
    );
    println!(
        "killed mid-load: {} acknowledged, all recorded",
        acknowledged.len()
    );
}

/// Completions that arrive together go to complete_jobs as one statement (src/batch.rs,
/// SetBatcher): the running jobs are done, a job that is not running gets complete_job's error
/// without failing the others, and a job whose result its kind refuses (a statement error for
/// the whole batch) fails alone once each runs on its own.
#[test]
fn completions_of_a_batch_go_in_one_statement_and_a_job_not_running_fails_alone() {
    use alphadome_relay::batch::SetBatcher;
    use alphadome_relay::metrics::Metrics;
    let cluster = alphadome_e2e::Cluster::start(&[]);
    let mut db = cluster.create_database("shop");
    cluster.seed_kassangas(
        "shop",
        &[
            ("whatsapp_phone_number_id", KASSANGAS_NUMBER),
            ("whatsapp_access_token", KASSANGAS_TOKEN),
        ],
    );
    // Three sends to a customer, leased to this test's worker; a fourth already done.
    let ids: Vec<i64> = db
        .query(
            "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id)
                        SELECT id, '254712000001', '254712000001' FROM alphadome.bot_tenants RETURNING bot_tenant_id, id)
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, attempts, locked_by, lease_until)
             SELECT c.bot_tenant_id, 'reply.send',
                    jsonb_build_object('to', '254712000001', 'conversation_id', c.id, 'text', 'Reply ' || n),
                    CASE WHEN n = 4 THEN 'done' ELSE 'running' END, 1, 'test', now() + interval '1 minute'
               FROM c, generate_series(1, 4) n
             ORDER BY n
             RETURNING id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let templates: i64 = db
        .query_one(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, attempts, locked_by, lease_until)
             SELECT id, 'templates.sync', '{}', 'running', 1, 'test', now() + interval '1 minute'
               FROM alphadome.bot_tenants RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    let pool = alphadome_service::database::DatabaseArgs {
        database_url: cluster.url("postgres", "shop"),
        database_ca_file: None,
    }
    .pool("batching-test", 1)
    .unwrap();
    let sent = |n: i64| json!({"wamid": format!("wamid.set.{n}"), "status": "sent"});
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = std::sync::Arc::new(Metrics::default());
    let (first, second) = runtime.block_on(async {
        let completions = SetBatcher::start(
            pool,
            "SELECT job_id, error_code, error FROM alphadome.complete_jobs($1, $2)",
            1,
            64,
            "complete_jobs",
            metrics.clone(),
        );
        // On one thread, every call below waits in the queue before the lane takes any.
        let first = futures_util::future::join_all([
            completions.call(ids[0], sent(0)),
            completions.call(ids[3], sent(3)),
            completions.call(ids[1], sent(1)),
        ])
        .await;
        let second = futures_util::future::join_all([
            completions.call(ids[2], sent(2)),
            completions.call(templates, json!({})),
        ])
        .await;
        (first, second)
    });
    assert_eq!(first[0], Ok(()));
    assert_eq!(
        first[1],
        Err(format!(
            "55000: job {} is done, not running: its lease may have expired and another worker taken it",
            ids[3]
        ))
    );
    assert_eq!(first[2], Ok(()));
    assert_eq!(second[0], Ok(()), "the send beside a refused result goes");
    assert_eq!(
        second[1],
        Err("22023: templates.sync: the result has no \"data\" list".into())
    );
    let row = db
        .query_one(
            "SELECT (SELECT string_agg(o.status::text, ',' ORDER BY o.id) FROM alphadome.outbox o),
                    (SELECT string_agg(m.wamid, ',' ORDER BY m.wamid) FROM alphadome.messages m WHERE m.direction = 'outbound')",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "done,done,done,done,running");
    assert_eq!(
        row.get::<_, String>(1),
        "wamid.set.0,wamid.set.1,wamid.set.2"
    );
    // Two batches, of three and two completions.
    let text = metrics.render();
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("statement=\"complete_jobs\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(
        (
            read("alphadome_batch_size_count"),
            read("alphadome_batch_size_sum")
        ),
        (Some(2.0), Some(5.0)),
        "{text}"
    );
}
