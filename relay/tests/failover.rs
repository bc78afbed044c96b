//! The primary dies and its streaming standby (synchronous replication) is promoted: a relay
//! with both hosts in DATABASE_URL (target_session_attrs=read-write) keeps serving on the new
//! primary, no webhook that got a 200 is lost, and its worker (LISTEN, claims) resumes there.
mod common;

use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::Cluster;
use common::*;
use std::time::{Duration, Instant};

/// Posts a webhook until a 200 (as Meta retries); returns its wamid.
fn deliver(relay: &Relay, n: usize) -> String {
    let wamid = format!("wamid.failover.{n}");
    let body = text_webhook(
        KASSANGAS_NUMBER,
        &format!("2547160{n:05}"),
        "What are your opening hours?",
        &wamid,
    )
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay
        .post(
            "/webhook",
            body.as_bytes(),
            Some(&Deployment::sign(body.as_bytes())),
        )
        .0
        != 200
    {
        assert!(Instant::now() < deadline, "the relay never took {wamid}");
        std::thread::sleep(Duration::from_millis(200));
    }
    wamid
}

#[test]
fn a_relay_follows_the_promoted_standby_and_loses_no_acknowledged_webhook() {
    let primary = Cluster::start(&[]);
    let mut db = primary.create_database("shop");
    primary.seed_kassangas(
        "shop",
        &[
            ("whatsapp_phone_number_id", KASSANGAS_NUMBER),
            ("whatsapp_access_token", KASSANGAS_TOKEN),
            ("ai_api_key", KASSANGAS_AI_KEY),
        ],
    );
    db.batch_execute(
        "CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
         UPDATE alphadome.bot_control_settings SET business_hours = NULL;",
    )
    .unwrap();
    let standby = primary.standby();
    // Synchronous: a commit (and so a 200) waits until the standby has the WAL.
    db.batch_execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        .unwrap();
    db.batch_execute("SELECT pg_reload_conf()").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db
        .query_opt(
            "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'",
            &[],
        )
        .unwrap()
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the standby did not become synchronous"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(db);
    let meta = Mock::meta();
    let both = format!(
        "host={},{} port={},{} user=relay_login dbname=shop target_session_attrs=read-write",
        primary.dir.display(),
        standby.dir.display(),
        primary.port,
        standby.port
    );
    let relay = Relay::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_alphadome-relay")),
        &[
            ("DATABASE_URL", both),
            ("META_GRAPH_URL", meta.base.clone()),
            ("META_APP_SECRET", APP_SECRET.into()),
            // No polling to fall back on within the test: the replies after the failover come
            // only if LISTEN resumed on the new primary.
            ("ALPHADOME_POLL_MS", "600000".into()),
            ("ALPHADOME_RETRY_BASE_SECONDS", "1".into()),
        ],
        &primary.dir.join("relay.log"),
    );
    let before: Vec<String> = (0..50).map(|n| deliver(&relay, n)).collect();
    meta.wait_until(LONG, "the replies before", |r| {
        r.iter().filter(|x| x.body.get("text").is_some()).count() >= 50
    });

    primary.crash();
    standby.promote();
    let failed_over = Instant::now();
    let after: Vec<String> = (50..100).map(|n| deliver(&relay, n)).collect();
    let took = failed_over.elapsed();
    // The worker resumed on the new primary: the replies to what came after arrive.
    meta.wait_until(LONG, "the replies after", |r| {
        after.iter().all(|w| {
            r.iter()
                .any(|x| x.body["context"]["message_id"] == w.as_str())
        })
    });
    let acknowledged: Vec<String> = before.iter().chain(&after).cloned().collect();
    let recorded: i64 = standby
        .connect("shop")
        .query_one(
            "SELECT count(*) FROM alphadome.messages WHERE wamid = ANY($1)",
            &[&acknowledged],
        )
        .unwrap()
        .get(0);
    alphadome_e2e::report(&format!("failover: {} acknowledged, {recorded} on the promoted standby; the 50 after the crash took {took:.1?}", acknowledged.len()));
    assert_eq!(
        recorded, 100,
        "every acknowledged webhook survived the primary's loss"
    );
}
