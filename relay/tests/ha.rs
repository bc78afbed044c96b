//! High availability under load, on Patroni (deploy/patroni/up.sh: etcd, two PostgreSQL nodes
//! in synchronous mode, HAProxy). Two relays, one through HAProxy and one with the multi-host
//! URL (target_session_attrs=read-write), take signed webhooks at a steady rate from three
//! tenants (FAQ and LLM questions) while
//!   (a) the leader's PostgreSQL is SIGKILLed and Patroni promotes the synchronous standby,
//!   (c) the old leader rejoins as a replica (pg_rewind when it must),
//!   (b) a planned `patronictl switchover` moves the leader back.
//! Afterwards: every acknowledged webhook recorded and answered, no job stuck (leases taken on
//! the old leader expire and are taken again), each relay's LISTEN session on the new leader
//! (a tenant created there is routed at once), sequences not behind their tables.
mod common;

use alphadome_e2e::mock::{Mock, Scripted};
use alphadome_e2e::patroni::Patroni;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::{report, wait_for_queue_to_drain};
use common::{text_webhook, Deployment, APP_SECRET};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const NUMBERS: [&str; 3] = ["400000000000001", "400000000000002", "400000000000003"];
/// Meta's pace, shared between the two relays.
const PER_SECOND: f64 = 20.0;
const LEASE_SECONDS: &str = "5";
const RELAYS: [&str; 2] = ["through HAProxy", "multi-host URL"];

/// One answer a relay gave a webhook POST: when it was asked and answered, by which relay,
/// and whether a 200.
struct Answer {
    sent: Instant,
    at: Instant,
    relay: usize,
    accepted: bool,
}

/// Clears the flag when dropped, also while a panic unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

fn relay(url: String, meta: &Mock, llm: &Mock, name: &str, log: &Path) -> Relay {
    Relay::start(
        Path::new(env!("CARGO_BIN_EXE_alphadome-relay")),
        &[
            ("DATABASE_URL", url),
            ("META_GRAPH_URL", meta.base.clone()),
            ("META_APP_SECRET", APP_SECRET.into()),
            ("LLM_BASE_URL", llm.base.clone()),
            ("ALPHADOME_WORKER", name.into()),
            ("ALPHADOME_POLL_MS", "500".into()),
            ("ALPHADOME_RETRY_BASE_SECONDS", "1".into()),
            ("ALPHADOME_LEASE_SECONDS", LEASE_SECONDS.into()),
            ("ALPHADOME_META_TIMEOUT", "3".into()),
            ("ALPHADOME_LLM_TIMEOUT", "3".into()),
        ],
        log,
    )
}

/// For one relay between `from` and `to`: the time from its first refusal to the 200 of the first
/// webhook posted after that refusal (None when it refused nothing; posts already under way
/// may still commit on sessions the dying server has not yet closed), and the longest stretch
/// without a 200.
fn outage(
    answers: &[Answer],
    relay: usize,
    from: Instant,
    to: Instant,
) -> (Option<Duration>, Duration) {
    let mine: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.relay == relay && a.at >= from && a.at <= to)
        .collect();
    let refused = mine.iter().find(|a| !a.accepted).map(|a| a.at);
    let refused_for = refused.map(|r| {
        mine.iter()
            .find(|a| a.accepted && a.sent >= r)
            .map_or(to - r, |a| a.at - r)
    });
    let mut longest = Duration::ZERO;
    let mut last = from;
    for a in mine.iter().filter(|a| a.accepted) {
        longest = longest.max(a.at - last);
        last = a.at;
    }
    (refused_for, longest.max(to - last))
}

/// A tenant created on the leader is routed by both relays within 15 s: the notification reached
/// them, so their LISTEN sessions are on this leader. Returns how long that took.
fn routes_follow(ha: &Patroni, relays: &[&Relay], n: u32) -> Duration {
    let slug = format!("ha-check-{n}");
    let verify_token = format!("vtok-test-ha-{n}");
    ha.connect()
        .execute(
            "SELECT alphadome.create_tenant($1, $1, $2, $3, 'EAAtest-ha-check', NULL, NULL, $4)",
            &[
                &slug,
                &format!("07340000{n:02}"),
                &format!("41000000000000{n}"),
                &verify_token,
            ],
        )
        .unwrap();
    let created = Instant::now();
    let path = format!(
        "/webhook/{slug}?hub.mode=subscribe&hub.challenge=42&hub.verify_token={verify_token}"
    );
    for relay in relays {
        while relay.get(&path).0 != 200 {
            assert!(
                created.elapsed() < Duration::from_secs(15),
                "a relay did not route {slug}: its LISTEN session is not on the leader"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    created.elapsed()
}

/// Waits until `relay` holds a running job, SIGKILLs it, and returns the jobs it still held.
fn kill_holding_a_job(ha: &Patroni, relay: &mut Relay) -> Vec<i64> {
    let held =
        "SELECT id FROM alphadome.outbox WHERE status = 'running' AND locked_by = 'relay-doomed'";
    // An LLM call begun within the last half second (the lease is 5 s): its LLM answers after
    // the relay's 3 s timeout, so the call is still under way when the relay dies a moment later.
    let just_begun = "SELECT id FROM alphadome.outbox WHERE status = 'running' AND locked_by = 'relay-doomed'
                        AND kind = 'reply.generate' AND lease_until > now() + interval '4.5 seconds'";
    let mut db = ha.connect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.query(just_begun, &[]).unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the third relay never held a job"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    relay.kill();
    let jobs: Vec<i64> = db
        .query(held, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!jobs.is_empty(), "the relay died holding jobs");
    jobs
}

/// Waits until node `not` is no longer the primary and another is; returns that node.
fn new_primary(ha: &Patroni, not: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(p) = ha.primary().filter(|p| *p != not) {
            return p;
        }
        assert!(Instant::now() < deadline, "no node was promoted");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn patroni_fails_over_and_switches_over_under_load_and_no_acknowledged_webhook_is_lost() {
    let ha = Patroni::up(2, "shop");
    common::seed_busy_tenants(&mut ha.connect(), "ha", "07350000", &NUMBERS);
    let (meta, llm) = (Mock::meta(), Mock::llm());
    // The LLM answers in up to 1.5 s, so some jobs are running when a leader goes: their leases,
    // taken on the old leader, must end and the jobs be taken again on the new one.
    llm.chaos(0.0, Duration::from_millis(1500));
    let relays = [
        relay(
            ha.proxy_url("relay_login"),
            &meta,
            &llm,
            "relay-proxy",
            &ha.state.join("relay-proxy.log"),
        ),
        relay(
            ha.multi_host_url("relay_login"),
            &meta,
            &llm,
            "relay-multi",
            &ha.state.join("relay-multi.log"),
        ),
    ];
    // A third relay, only working the queue, dies with the leader (as one on the leader's machine
    // would): the jobs it held were leased on the old leader and must be taken again on the new.
    // Its LLM never answers in time, so an LLM job it claimed is surely under way when it dies.
    let stuck_llm = Mock::llm();
    stuck_llm.always(Some(Scripted {
        status: 200,
        body: serde_json::json!({}),
        delay: Duration::from_secs(60),
    }));
    let mut doomed = relay(
        ha.proxy_url("relay_login"),
        &meta,
        &stuck_llm,
        "relay-doomed",
        &ha.state.join("relay-doomed.log"),
    );
    let urls: Vec<String> = relays.iter().map(|r| r.url.clone()).collect();
    meta.send_statuses(urls.clone(), APP_SECRET);

    let answers = Mutex::new(Vec::<Answer>::new());
    let acknowledged = Mutex::new(Vec::<(String, Instant)>::new());
    let next = AtomicUsize::new(0);
    let posting = AtomicBool::new(true);
    let started = Instant::now();
    // (name, when it began, when the cluster was whole again)
    let mut events: Vec<(&str, Instant, Instant)> = Vec::new();
    let mut orphans: Vec<i64> = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..6 {
            let (answers, acknowledged, next, posting, urls) =
                (&answers, &acknowledged, &next, &posting, &urls);
            s.spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                while posting.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let due = started + Duration::from_secs_f64(n as f64 / PER_SECOND);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let text = if n % 5 == 4 {
                        "Can you recommend a violin for a beginner?"
                    } else {
                        "What are your opening hours?"
                    };
                    let wamid = format!("wamid.ha.{n}");
                    let from = format!("2547160{n:05}");
                    let body = text_webhook(NUMBERS[n % 3], &from, text, &wamid).to_string();
                    // As Meta: again until a 200, here to the same relay to time its outage.
                    let relay = n % 2;
                    let deadline = Instant::now() + Duration::from_secs(90);
                    loop {
                        let sent = Instant::now();
                        let answered = client
                            .post(format!("{}/webhook", urls[relay]))
                            .header("content-type", "application/json")
                            .header("x-hub-signature-256", Deployment::sign(body.as_bytes()))
                            .body(body.clone())
                            .send()
                            .is_ok_and(|r| r.status().as_u16() == 200);
                        let at = Instant::now();
                        answers.lock().unwrap().push(Answer {
                            sent,
                            at,
                            relay,
                            accepted: answered,
                        });
                        if answered {
                            acknowledged.lock().unwrap().push((wamid, at));
                            break;
                        }
                        assert!(Instant::now() < deadline, "no relay took {wamid}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        }
        // The posters stop however this ends: a failed step must not leave them posting.
        let _stop = StopOnDrop(&posting);
        let relay_refs: Vec<&Relay> = relays.iter().collect();
        std::thread::sleep(Duration::from_secs(5));

        // (a) The leader's PostgreSQL dies; Patroni promotes the synchronous standby.
        let old = ha.primary().expect("a leader");
        let orphaned = kill_holding_a_job(&ha, &mut doomed);
        let began = Instant::now();
        ha.kill_postgres(old);
        let promoted = new_primary(&ha, old, Duration::from_secs(60));
        let promoted_in = began.elapsed();
        let routed_in = routes_follow(&ha, &relay_refs, 1);
        // (c) The old leader comes back as a replica of the new one.
        let rejoined = ha.wait_for_replica(old, Duration::from_secs(120));
        let rejoined_in = began.elapsed();
        events.push(("(a) failover", began, Instant::now()));
        orphans = orphaned;
        report(&format!(
            "ha: (a) node{old}'s PostgreSQL SIGKILLed: node{promoted} primary after {promoted_in:.1?}, both relays routing a tenant created there {routed_in:.1?} later; \
             (c) node{old} back as {} on timeline {} after {rejoined_in:.1?}, pg_rewind {}",
            rejoined.role,
            rejoined.timeline.unwrap_or_default(),
            if ha.log(old).contains("running pg_rewind from") {
                "used"
            } else {
                "not needed"
            }
        ));
        std::thread::sleep(Duration::from_secs(3));

        // (b) A planned switchover back to the old leader.
        let began = Instant::now();
        ha.switchover(promoted, old);
        let switched = new_primary(&ha, promoted, Duration::from_secs(60));
        assert_eq!(switched, old, "the switchover's candidate leads");
        let switched_in = began.elapsed();
        let routed_in = routes_follow(&ha, &relay_refs, 2);
        let rejoined = ha.wait_for_replica(promoted, Duration::from_secs(120));
        events.push(("(b) switchover", began, Instant::now()));
        report(&format!(
            "ha: (b) switchover node{promoted} -> node{old}: done after {switched_in:.1?}, routing followed {routed_in:.1?} later; node{promoted} back as {} after {:.1?}",
            rejoined.role,
            began.elapsed()
        ));
        std::thread::sleep(Duration::from_secs(3));
    });
    let posted_for = started.elapsed();

    // Jobs claimed on a leader that died are leased: they are taken again once the lease ends.
    let mut db = ha.connect();
    let drained_in = wait_for_queue_to_drain(&mut db, Duration::from_secs(90))
        .unwrap_or_else(|open| panic!("{open} jobs stuck 90 s after the load stopped"));
    std::thread::sleep(Duration::from_secs(2)); // the last status webhooks
    let answers = answers.into_inner().unwrap();
    let acknowledged = acknowledged.into_inner().unwrap();
    let wamids: Vec<String> = acknowledged.iter().map(|(w, _)| w.clone()).collect();
    let recorded: i64 = db
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound' AND wamid = ANY($1)",
            &[&wamids],
        )
        .unwrap()
        .get(0);
    let (dead, retaken): (i64, i64) = {
        let row = db
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'dead'), count(*) FILTER (WHERE attempts > 1)
                   FROM alphadome.outbox",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    // The dead relay's jobs: each taken again (by another relay) once its lease ended, and done.
    // Its sends may also have been completed by their status webhooks (Meta had accepted them).
    let (orphans_done, llm_orphans, llm_orphans_retaken): (i64, i64, i64) = {
        let row = db
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'done'),
                        count(*) FILTER (WHERE kind = 'reply.generate'),
                        count(*) FILTER (WHERE kind = 'reply.generate' AND status = 'done' AND attempts >= 2
                                           AND locked_by IS DISTINCT FROM 'relay-doomed')
                   FROM alphadome.outbox WHERE id = ANY($1)",
                &[&orphans],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    let mut sends: HashMap<String, usize> = HashMap::new();
    for (answered, _) in meta.accepted() {
        if let Some(answered) = answered {
            *sends.entry(answered).or_default() += 1;
        }
    }
    let answered = wamids.iter().filter(|w| sends.contains_key(*w)).count();
    let duplicates: usize = sends.values().map(|n| n - 1).sum();
    let refusals = answers.iter().filter(|a| !a.accepted).count();
    // Sequences handed out on the old leader are not handed out again by the new one.
    let behind: Vec<String> = db
        .query(
            "SELECT s.seqrelid::regclass::text
               FROM pg_sequence s
               JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.refobjid::regclass::text LIKE 'alphadome.%'
                AND coalesce(pg_sequence_last_value(s.seqrelid), 0) <
                    coalesce((xpath('/row/m/text()', query_to_xml(
                        format('SELECT max(%I) AS m FROM %s', a.attname, d.refobjid::regclass), false, true, '')))[1]::text::bigint, 0)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let extension: String = db
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'",
            &[],
        )
        .unwrap()
        .get(0);

    report(&format!(
        "ha: {} webhooks acknowledged in {posted_for:.0?} ({refusals} refused answers, retried), {recorded} recorded, {answered} answered, {duplicates} duplicate replies; \
         {retaken} jobs taken more than once; the relay killed with the leader held {} jobs, {orphans_done} now done, its {llm_orphans} LLM jobs taken again: {llm_orphans_retaken}; {dead} dead; queue empty {drained_in:.1?} after the load stopped",
        wamids.len(),
        orphans.len()
    ));
    for (name, began, whole) in &events {
        for (i, via) in RELAYS.iter().enumerate() {
            let (refused_for, longest) = outage(&answers, i, *began, *whole);
            report(&format!(
                "ha: {name}, relay {via}: {}; longest time without a 200: {longest:.1?}",
                match refused_for {
                    Some(d) => format!("first refused to first accepted webhook {d:.1?}"),
                    None => "no webhook refused".into(),
                }
            ));
        }
        let after: Vec<&String> = acknowledged
            .iter()
            .filter(|(_, at)| at > whole)
            .map(|(w, _)| w)
            .collect();
        assert!(!after.is_empty(), "webhooks were acknowledged after {name}");
        assert!(
            after.iter().all(|w| sends.contains_key(*w)),
            "replies resumed after {name}"
        );
    }
    assert_eq!(
        recorded as usize,
        wamids.len(),
        "every acknowledged webhook is recorded"
    );
    assert_eq!(
        answered,
        wamids.len(),
        "every acknowledged webhook is answered"
    );
    assert_eq!(dead, 0, "no reply ended as a dead letter");
    assert_eq!(
        orphans_done as usize,
        orphans.len(),
        "the jobs leased on the old leader to a relay that died are done"
    );
    assert!(llm_orphans >= 1, "the relay died during an LLM call");
    assert_eq!(
        llm_orphans_retaken, llm_orphans,
        "its LLM jobs were taken again on the new leader once their leases ended"
    );
    assert!(
        behind.is_empty(),
        "sequences behind their tables after promotion: {behind:?}"
    );
    assert_eq!(
        extension,
        env!("CARGO_PKG_VERSION"),
        "the extension on the new leader"
    );
    // No credential and no master key in what the relays, Patroni and PostgreSQL logged.
    let key = std::fs::read_to_string(ha.state.join("master.key")).unwrap();
    let key_hex = key.trim().split(':').nth(1).unwrap().to_string();
    let logs: Vec<String> = relays
        .iter()
        .map(|r| r.log_text())
        .chain((1..=ha.nodes).map(|i| ha.log(i)))
        .collect();
    for secret in ["EAAtest", "sk-test-", "vtok-test-", key_hex.as_str()] {
        assert!(
            logs.iter().all(|log| !log.contains(secret)),
            "a secret is in a log"
        );
    }
}
