//! Faults all at once: three relays against one cluster take 3,000 signed webhooks (150 a second) from three
//! tenants (FAQ and LLM questions) while mock Meta and the mock LLM fail one call in twenty and
//! answer late, relays are SIGKILLed and restarted, and PostgreSQL restarts once. Meta's status
//! webhooks flow back (each naming the job that sent it). Afterwards: every acknowledged webhook
//! is recorded, every recorded message answered, no job stuck or lost, the dead letters exactly
//! the sends Meta refuses for good (one customer in a hundred is undeliverable), and resent
//! replies (a relay killed between Meta's answer and its report) counted and bounded.
mod common;

use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::Cluster;
use common::{
    text_webhook, Deployment, APP_SECRET, KASSANGAS_AI_KEY, KASSANGAS_NUMBER, KASSANGAS_TOKEN,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WEBHOOKS: usize = 3000;
/// Meta's pace: the webhooks arrive over 20 s, so the kills and the restart fall amid them.
const PER_SECOND: f64 = 150.0;
const OTHER_NUMBERS: [&str; 2] = ["300000000000001", "300000000000002"];
/// Customers Meta cannot deliver to (131026): their replies must end as dead letters, nothing else.
const UNDELIVERABLE: &str = "2547199";

fn customer(n: usize) -> String {
    if n % 100 == 3 {
        format!("{UNDELIVERABLE}{n:05}")
    } else {
        format!("2547150{n:05}")
    }
}

fn relay(cluster: &Cluster, meta: &Mock, llm: &Mock, name: &str) -> Relay {
    Relay::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_alphadome-relay")),
        &[
            ("DATABASE_URL", cluster.url("relay_login", "shop")),
            ("META_GRAPH_URL", meta.base.clone()),
            ("META_APP_SECRET", APP_SECRET.into()),
            ("LLM_BASE_URL", llm.base.clone()),
            ("ALPHADOME_WORKER", name.into()),
            ("ALPHADOME_POLL_MS", "200".into()),
            ("ALPHADOME_RETRY_BASE_SECONDS", "1".into()),
            ("ALPHADOME_LEASE_SECONDS", "5".into()),
            ("ALPHADOME_META_TIMEOUT", "3".into()),
            ("ALPHADOME_LLM_TIMEOUT", "3".into()),
        ],
        &cluster.dir.join(format!("{name}.log")),
    )
}

#[test]
fn three_relays_under_kills_a_database_restart_and_flaky_apis_lose_nothing() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.create_database("shop");
    cluster.seed_kassangas(
        "shop",
        &[
            ("whatsapp_phone_number_id", KASSANGAS_NUMBER),
            ("whatsapp_access_token", KASSANGAS_TOKEN),
            ("ai_api_key", KASSANGAS_AI_KEY),
        ],
    );
    common::seed_busy_tenants(&mut db, "chaos", "07330000", &OTHER_NUMBERS);
    drop(db);
    let (meta, llm) = (Mock::meta(), Mock::llm());
    // One call in twenty fails (overload or throttling, retried): often enough to hit every
    // retry path, rare enough that a job failing all five of its attempts by chance (which would
    // rightly be a dead letter) is a one-in-a-thousand run.
    meta.chaos(0.05, Duration::from_millis(30));
    meta.refuse_recipients(UNDELIVERABLE);
    llm.chaos(0.05, Duration::from_millis(300));
    let names = ["relay-a", "relay-b", "relay-c"];
    let relays: Vec<Mutex<Relay>> = names
        .iter()
        .map(|n| Mutex::new(relay(&cluster, &meta, &llm, n)))
        .collect();
    let urls: Vec<String> = relays
        .iter()
        .map(|r| r.lock().unwrap().url.clone())
        .collect();
    meta.send_statuses(urls.clone(), APP_SECRET);

    let acknowledged = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let posting = AtomicBool::new(true);
    let (kills, restarted_db) = (AtomicUsize::new(0), AtomicBool::new(false));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (acknowledged, next, urls) = (&acknowledged, &next, &urls);
            s.spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= WEBHOOKS {
                        return;
                    }
                    let due = started + Duration::from_secs_f64(n as f64 / PER_SECOND);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let number = match n % 5 {
                        0 => OTHER_NUMBERS[0],
                        1 => OTHER_NUMBERS[1],
                        _ => KASSANGAS_NUMBER,
                    };
                    let text = if n % 5 == 4 {
                        "Can you recommend a violin for a beginner?"
                    } else {
                        "What are your opening hours?"
                    };
                    let wamid = format!("wamid.chaos.{n}");
                    let body = text_webhook(number, &customer(n), text, &wamid).to_string();
                    // As Meta: until a relay answers 200 (another one when one is down).
                    let deadline = Instant::now() + Duration::from_secs(90);
                    for attempt in 0.. {
                        let url = &urls[(n + attempt) % urls.len()];
                        let answered = client
                            .post(format!("{url}/webhook"))
                            .header("content-type", "application/json")
                            .header("x-hub-signature-256", Deployment::sign(body.as_bytes()))
                            .body(body.clone())
                            .send();
                        if answered.is_ok_and(|r| r.status().as_u16() == 200) {
                            acknowledged.lock().unwrap().push(wamid);
                            break;
                        }
                        assert!(Instant::now() < deadline, "no relay took {wamid}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        }
        // The chaos: every 1-2 s a relay picked at random is SIGKILLed and started again 0.7 s
        // later; the database is restarted once, halfway.
        let (relays, posting, kills, restarted_db, cluster, next) =
            (&relays, &posting, &kills, &restarted_db, &cluster, &next);
        s.spawn(move || {
            let mut random = started.elapsed().as_nanos() as u64 | 1;
            while posting.load(Ordering::Relaxed) {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                std::thread::sleep(Duration::from_millis(1000 + random % 1000));
                if !posting.load(Ordering::Relaxed) {
                    break;
                }
                let mut relay = relays[(random >> 32) as usize % relays.len()]
                    .lock()
                    .unwrap();
                relay.kill();
                kills.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(700));
                relay.restart();
                drop(relay);
                if !restarted_db.load(Ordering::Relaxed)
                    && next.load(Ordering::Relaxed) > WEBHOOKS / 2
                {
                    cluster.stop();
                    std::thread::sleep(Duration::from_millis(500));
                    cluster.restart();
                    restarted_db.store(true, Ordering::Relaxed);
                }
            }
        });
        while next.load(Ordering::Relaxed) < WEBHOOKS + 8 {
            std::thread::sleep(Duration::from_millis(100));
        }
        posting.store(false, Ordering::Relaxed);
    });
    let posted_in = started.elapsed();

    // Let the queue drain: sends whose relay died wait out their lease and the resend wait.
    let mut db = cluster.connect("shop");
    let drained_in = alphadome_e2e::wait_for_queue_to_drain(&mut db, Duration::from_secs(180))
        .unwrap_or_else(|open| panic!("{open} jobs still open after 180 s"));
    // How hard the faults hit: jobs by the attempts they took, and the slowest one.
    let (attempts, slowest): (String, f64) = {
        let row = db
            .query_one(
                "SELECT (SELECT string_agg(a || ':' || n, ' ' ORDER BY a)
                           FROM (SELECT attempts AS a, count(*) AS n FROM alphadome.outbox GROUP BY 1) per_attempt),
                        (SELECT max(extract(epoch FROM updated_at - created_at))::float8 FROM alphadome.outbox)",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    std::thread::sleep(Duration::from_secs(2)); // the last status webhooks

    let acknowledged = acknowledged.into_inner().unwrap();
    let recorded: i64 = db
        .query_one("SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound' AND wamid = ANY($1)", &[&acknowledged])
        .unwrap()
        .get(0);
    let mut sends: HashMap<String, usize> = HashMap::new();
    for (answered, _) in meta.accepted() {
        if let Some(answered) = answered {
            *sends.entry(answered).or_default() += 1;
        }
    }
    let undeliverable: Vec<String> = (0..WEBHOOKS)
        .filter(|n| customer(*n).starts_with(UNDELIVERABLE))
        .map(|n| format!("wamid.chaos.{n}"))
        .collect();
    let answered = acknowledged
        .iter()
        .filter(|w| sends.get(*w).is_some_and(|n| *n >= 1))
        .count();
    let duplicates: usize = acknowledged
        .iter()
        .map(|w| sends.get(w).map_or(0, |n| n.saturating_sub(1)))
        .sum();
    let dead: Vec<(String, String)> = db
        .query(
            "SELECT coalesce(payload ->> 'context_wamid', kind),
                    coalesce(last_error ->> 'class', '') || ': ' || coalesce(last_error ->> 'message', '')
               FROM alphadome.outbox WHERE status = 'dead' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut dead_for: Vec<String> = dead.iter().map(|(wamid, _)| wamid.clone()).collect();
    dead_for.sort();
    let mut expected_dead = undeliverable.clone();
    expected_dead.sort();
    let completed_by_status: i64 = db
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE result ->> 'by' = 'status_webhook'",
            &[],
        )
        .unwrap()
        .get(0);
    alphadome_e2e::report(&format!(
        "chaos: jobs by attempts taken {attempts}; the slowest took {slowest:.1} s"
    ));
    alphadome_e2e::report(&format!(
        "chaos: {} webhooks acknowledged in {:.0} s, queue drained {:.0} s later, {recorded} recorded, {answered} answered, {duplicates} resent in the window ({:.2}%), \
         {} dead letters ({} undeliverable customers), {} relay kills, database restarted: {}, {completed_by_status} sends completed by their status webhook",
        acknowledged.len(),
        posted_in.as_secs_f64(),
        drained_in.as_secs_f64(),
        100.0 * duplicates as f64 / acknowledged.len() as f64,
        dead.len(),
        undeliverable.len(),
        kills.load(Ordering::Relaxed),
        restarted_db.load(Ordering::Relaxed),
    ));
    assert_eq!(
        acknowledged.len(),
        WEBHOOKS,
        "every webhook was acknowledged in the end"
    );
    assert_eq!(
        recorded as usize, WEBHOOKS,
        "every acknowledged webhook is recorded"
    );
    assert_eq!(
        answered,
        WEBHOOKS - undeliverable.len(),
        "every deliverable message got its answer"
    );
    assert_eq!(
        dead_for, expected_dead,
        "the dead letters are exactly the undeliverable replies: {dead:?}"
    );
    assert!(
        dead.iter().all(|(_, error)| error.starts_with("permanent")),
        "{dead:?}"
    );
    assert!(
        duplicates * 1000 <= WEBHOOKS * 5,
        "{duplicates} replies sent twice: more than 0.5%"
    );
    assert!(
        restarted_db.load(Ordering::Relaxed),
        "the database was restarted during the run"
    );
}
