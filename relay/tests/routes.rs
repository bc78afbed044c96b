//! The relay's routes: Meta's GET handshake, per-tenant webhooks, health, readiness, metrics,
//! dry-run mode, and `simulate`.
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn handshakes_answer_the_challenge_only_for_the_right_verify_token() {
    let d = Deployment::start(&[]);
    let get = |path: &str| d.relay.get(path);
    let challenge = |route: &str, token: &str| {
        get(&format!(
            "{route}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        ))
    };
    assert_eq!(
        challenge("/webhook", SHARED_VERIFY_TOKEN),
        (200, "1158201444".to_string())
    );
    assert_eq!(challenge("/webhook", "wrong").0, 403);
    assert_eq!(get("/webhook?hub.mode=subscribe&hub.challenge=1").0, 403);
    assert_eq!(
        challenge("/webhook/other-shop", OTHER_VERIFY_TOKEN),
        (200, "1158201444".to_string())
    );
    assert_eq!(challenge("/webhook/other-shop", SHARED_VERIFY_TOKEN).0, 403);
    assert_eq!(
        challenge("/webhook/kassangas", OTHER_VERIFY_TOKEN).0,
        403,
        "another tenant's verify token"
    );
    assert_eq!(challenge("/webhook/nobody", OTHER_VERIFY_TOKEN).0, 403);
    d.assert_no_secret_in_logs();
}

#[test]
fn a_tenant_route_takes_only_its_own_secret_and_its_own_number() {
    let d = Deployment::start(&[]);
    let mine = text_webhook(OTHER_NUMBER, "254766000001", "hello", "wamid.e2e.route").to_string();
    let own = alphadome_relay::http::signature::sign(OTHER_APP_SECRET.as_bytes(), mine.as_bytes());
    let (status, counts) = d
        .relay
        .post("/webhook/other-shop", mine.as_bytes(), Some(&own));
    assert_eq!(status, 200, "{counts}");
    assert!(counts.contains("\"accepted\":1"), "{counts}");
    // The shared app's secret is another secret: refused.
    assert_eq!(
        d.relay
            .post(
                "/webhook/other-shop",
                mine.as_bytes(),
                Some(&Deployment::sign(mine.as_bytes()))
            )
            .0,
        401
    );
    // Signed right, but for Kassangas' number: refused and logged, nothing recorded.
    let foreign = text_webhook(
        KASSANGAS_NUMBER,
        "254766000002",
        "hello",
        "wamid.e2e.foreign",
    )
    .to_string();
    let signed =
        alphadome_relay::http::signature::sign(OTHER_APP_SECRET.as_bytes(), foreign.as_bytes());
    let (status, counts) = d
        .relay
        .post("/webhook/other-shop", foreign.as_bytes(), Some(&signed));
    assert_eq!(status, 200);
    assert!(counts.contains("\"refused\":1"), "{counts}");
    let recorded =
        d.count("SELECT count(*) FROM alphadome.messages WHERE wamid = 'wamid.e2e.foreign'");
    assert_eq!(recorded, 0);
    // Kassangas has no app secret of its own: its route is closed, and answers like a bad
    // signature, as a slug nobody has does: which slugs exist is not told.
    for slug in ["kassangas", "nobody"] {
        let (status, body) = d
            .relay
            .post(&format!("/webhook/{slug}"), mine.as_bytes(), Some(&own));
        assert_eq!((status, body.as_str()), (401, "bad signature"), "{slug}");
    }
    d.assert_no_secret_in_logs();
}

/// Strangers' requests to a tenant route touch no credential: the relay checks signatures
/// against the app secrets it holds, decrypted (and audited) once per change of the tenant.
#[test]
fn unsigned_requests_write_no_audit_rows_and_a_deactivated_tenant_is_closed_at_once() {
    let d = Deployment::start(&[]);
    let audits = || {
        // Decryptions: not the audit row of create_tenant's storing it.
        d.count("SELECT count(*) FROM alphadome.credential_audit WHERE credential = 'app_secret' AND purpose NOT LIKE 'create_tenant%'")
    };
    let at_start = audits();
    assert_eq!(
        at_start, 1,
        "the relay decrypted the app secret once, at start"
    );
    let body =
        text_webhook(OTHER_NUMBER, "254766000003", "hello", "wamid.e2e.stranger").to_string();
    for signature in [None, Some("sha256=00"), Some("sha256=zz")] {
        assert_eq!(
            d.relay
                .post("/webhook/other-shop", body.as_bytes(), signature)
                .0,
            401
        );
    }
    assert_eq!(audits(), at_start, "no audit row per request");
    let own = alphadome_relay::http::signature::sign(OTHER_APP_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(
        d.relay
            .post("/webhook/other-shop", body.as_bytes(), Some(&own))
            .0,
        200
    );

    // Deactivated: the next request is refused, without waiting for a timed refresh.
    d.db()
        .batch_execute(
            "UPDATE alphadome.bot_tenants SET is_active = false WHERE slug = 'other-shop'",
        )
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while d
        .relay
        .post("/webhook/other-shop", body.as_bytes(), Some(&own))
        .0
        != 401
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the route stayed open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A new app secret takes over as soon as it is set; the old one is refused.
    d.db()
        .batch_execute(
            "UPDATE alphadome.bot_tenants SET is_active = true WHERE slug = 'other-shop';
             SELECT alphadome.set_credentials(id, app_secret => 'whsec-test-rotated-app-secret')
               FROM alphadome.bot_tenants WHERE slug = 'other-shop'",
        )
        .unwrap();
    let rotated =
        alphadome_relay::http::signature::sign(b"whsec-test-rotated-app-secret", body.as_bytes());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while d
        .relay
        .post("/webhook/other-shop", body.as_bytes(), Some(&rotated))
        .0
        != 200
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the new secret was not taken"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        d.relay
            .post("/webhook/other-shop", body.as_bytes(), Some(&own))
            .0,
        401
    );
    d.assert_no_secret_in_logs();
}

#[test]
fn health_readiness_and_metrics() {
    let d = Deployment::start(&[]);
    assert_eq!(d.relay.get("/healthz").0, 200);
    assert_eq!(d.relay.admin_get("/readyz").0, 200);
    // Readiness and metrics are the operator's: not on the public webhook port.
    assert_eq!(d.relay.get("/readyz").0, 404);
    assert_eq!(d.relay.get("/metrics").0, 404);
    d.post_text(
        KASSANGAS_NUMBER,
        "254777000001",
        "What are your opening hours?",
        "wamid.e2e.metrics",
    );
    d.relay.post("/webhook", b"{}", Some("sha256=00"));
    d.meta.wait_until(LONG, "the reply", |r| {
        r.iter().any(|x| x.body.get("text").is_some())
    });
    d.wait_until_idle(LONG);
    let (status, metrics) = d.relay.admin_get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("alphadome_webhooks_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alphadome_webhooks_total{result=\"unauthorized\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alphadome_messages_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alphadome_jobs_total{result=\"completed\"} 1"),
        "{metrics}"
    );
    // Job log lines name the tenant once, as plain text.
    let log = d.relay.log_text();
    assert!(log.contains("\"tenant\":\"kassangas\""), "{log}");
    assert!(!log.contains("\\\"kassangas"), "the tenant is quoted twice");
    for histogram in [
        "alphadome_webhook_seconds_count 2",
        "alphadome_ingest_seconds_count 1",
        "alphadome_meta_call_seconds_count{result=\"ok\"} 2",
    ] {
        assert!(metrics.contains(histogram), "{histogram} in {metrics}");
    }
}

#[test]
fn dry_run_sends_nothing_and_simulate_prints_the_faq_answer() {
    let d = Deployment::start(&[("ALPHADOME_DRY_RUN", "true")]);
    d.db()
        .batch_execute("CREATE ROLE operator LOGIN IN ROLE alphadome_admin")
        .unwrap();
    let simulate = |args: &[&str], shared_secret: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_alphadome-relay"));
        command
            .arg("simulate")
            .args(args)
            .env_clear()
            .env("ALPHADOME_RELAY_URL", &d.relay.url)
            .env("DATABASE_URL", d.cluster.url("operator", "shop"));
        if let Some(secret) = shared_secret {
            command.env("META_APP_SECRET", secret);
        }
        let out = command.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    // Kassangas uses the shared Meta app: its secret is needed.
    let (ok, stdout, stderr) = simulate(
        &["What are your opening hours?", "--tenant", "kassangas"],
        Some(APP_SECRET),
    );
    assert!(ok, "{stdout} {stderr}");
    assert_eq!(stdout, OPENING_HOURS_ANSWER);
    let (ok, _, stderr) = simulate(&["hello", "--tenant", "kassangas"], None);
    assert!(!ok);
    assert!(
        stderr.contains("kassangas has no Meta app of its own: give the shared app's secret"),
        "{stderr}"
    );
    // other-shop has an app of its own: simulate signs with its secret, on its route.
    let (ok, stdout, stderr) = simulate(&["Are you open?", "--tenant", "other-shop"], None);
    assert!(ok, "{stdout} {stderr}");
    assert!(stderr.contains("tenant: other-shop"), "{stderr}");
    // Two tenants and none named: told which there are.
    let (ok, _, stderr) = simulate(&["hello"], Some(APP_SECRET));
    assert!(!ok);
    assert!(
        stderr.contains("name one with --tenant <slug> (kassangas, other-shop)"),
        "{stderr}"
    );
    let (ok, _, stderr) = simulate(&["hello", "--tenant", "nobody"], Some(APP_SECRET));
    assert!(
        !ok && stderr.contains("no active tenant nobody"),
        "{stderr}"
    );
    // Each run closed its connection as a client should.
    let server_log = d.cluster.server_log();
    assert!(
        !server_log.contains("connection to client lost") && !server_log.contains("unexpected EOF"),
        "{server_log}"
    );
    // An LLM question in dry run: no call, a placeholder answer, recorded as simulated.
    d.post_text(
        KASSANGAS_NUMBER,
        "254788000001",
        "Do you sell cellos?",
        "wamid.e2e.dry",
    );
    d.wait_for(
        "the simulated reply",
        "SELECT count(*) = 3 FROM alphadome.messages WHERE direction = 'outbound' AND status = 'simulated'",
        LONG,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.meta.requests().is_empty(), "dry run calls no Meta");
    assert!(d.llm.requests().is_empty(), "dry run calls no LLM");
}

#[test]
fn sigterm_lets_the_job_in_flight_finish_then_exits() {
    let mut d = Deployment::start(&[]);
    d.llm.always(Some(alphadome_e2e::mock::Scripted {
        status: 200,
        body: serde_json::json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Worth the wait.", "refusal": null}}]}),
        delay: Duration::from_secs(2),
    }));
    d.post_text(
        KASSANGAS_NUMBER,
        "254799100001",
        "Tell me about your drum kits",
        "wamid.e2e.term",
    );
    d.llm
        .wait_until(LONG, "the LLM call in flight", |r| r.len() == 1);
    let status = d.relay.terminate();
    assert!(status.success(), "{status}");
    assert!(d.relay.log_text().contains("worker stopped"));
    // The generate job finished during the grace period; its send waits for the next relay.
    let done: String = d
        .db()
        .query_one(
            "SELECT status FROM alphadome.outbox WHERE kind = 'reply.generate'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(done, "done", "the in-flight job was finished, not dropped");
    d.relay.restart();
    d.meta.wait_until(LONG, "the reply after restart", |r| {
        r.iter()
            .any(|x| x.body["text"]["body"] == "Worth the wait.")
    });
}

#[test]
fn the_worker_prunes_old_payloads_and_finished_jobs_on_its_schedule() {
    let d = Deployment::start(&[
        ("ALPHADOME_PRUNE_SECONDS", "1"),
        ("ALPHADOME_KEEP_DAYS", "7"),
    ]);
    d.db()
        .batch_execute(
            "INSERT INTO alphadome.webhook_events (received_at, payload)
               SELECT now() - interval '8 days', '{}' FROM generate_series(1, 3);
             INSERT INTO alphadome.webhook_events (received_at, payload) VALUES (now() - interval '6 days', '{}');
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, updated_at)
               SELECT id, 'alert.send', '{}', 'done', now() - interval '8 days' FROM alphadome.bot_tenants",
        )
        .unwrap();
    let deadline = std::time::Instant::now() + LONG;
    while d.count("SELECT count(*) FROM alphadome.webhook_events WHERE received_at < now() - interval '7 days'") > 0 {
        assert!(std::time::Instant::now() < deadline, "old payloads were not pruned");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        d.count(
            "SELECT count(*) FROM alphadome.outbox WHERE updated_at < now() - interval '7 days'"
        ),
        0
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.webhook_events WHERE received_at > now() - interval '7 days'"),
        1,
        "what is younger than ALPHADOME_KEEP_DAYS stays"
    );
    assert!(
        d.relay.log_text().contains("history pruned"),
        "the run is logged"
    );
}

#[test]
fn expiring_tokens_alert_the_owner_once_a_day() {
    let d = Deployment::start(&[("ALPHADOME_CREDENTIAL_CHECK_SECONDS", "1")]);
    // Gideon wrote to his bot within 24 hours: his alerts can go as WhatsApp text.
    d.db()
        .batch_execute(
            "INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, last_inbound_at)
             SELECT id, '254702245555', '254702245555', now() FROM alphadome.bot_tenants WHERE slug = 'kassangas';
             UPDATE alphadome.bot_tenants SET token_expires_at = now() + interval '10 days' WHERE slug = 'kassangas'",
        )
        .unwrap();
    let alerts = |r: &[alphadome_e2e::mock::Recorded]| {
        r.iter()
            .filter(|x| {
                x.body["to"] == "254702245555"
                    && x.body["text"]["body"]
                        .as_str()
                        .is_some_and(|t| t.contains("expires_soon"))
            })
            .count()
    };
    d.meta
        .wait_until(LONG, "the credential alert", |r| alerts(r) == 1);
    // Several more checks run (one a second); none sends a second alert today.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(alerts(&d.meta.requests()), 1);
    let logged = d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'outbound' AND body LIKE '%expires_soon%'");
    assert_eq!(logged, 1, "recorded like any other message");
    d.assert_no_secret_in_logs();
}

/// Meta, or anyone who caught one, sending the same signed webhook again: its messages are
/// duplicates, and its raw body is kept once and then counted on that row, not stored again.
#[test]
fn a_replayed_webhook_adds_no_raw_row() {
    let d = Deployment::start(&[]);
    let body = text_webhook(
        KASSANGAS_NUMBER,
        "254766000009",
        "hello",
        "wamid.e2e.replay",
    )
    .to_string();
    for _ in 0..3 {
        let (status, counts) = d.post(body.as_bytes());
        assert_eq!(status, 200, "{counts}");
    }
    let row = d
        .db()
        .query_one(
            "SELECT count(*), max(replays) FROM alphadome.webhook_events",
            &[],
        )
        .unwrap();
    // The first is left to its message row (new messages only, issue 27); the second, a
    // duplicate, is kept; the third is counted on it.
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i32>(1)), (1, 1));
}

#[test]
fn an_ingest_only_relay_records_webhooks_and_claims_no_job() {
    let d = Deployment::start(&[("ALPHADOME_INGEST_ONLY", "true")]);
    let (status, body) = d.post_text(
        KASSANGAS_NUMBER,
        "254777000091",
        "What are your opening hours?",
        "wamid.e2e.ingest-only",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.messages WHERE wamid = 'wamid.e2e.ingest-only'"),
        1
    );
    // Longer than the worker's poll interval (1 s): a worker would have claimed the reply.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        d.count(
            "SELECT count(*) FROM alphadome.outbox WHERE status = 'queued' AND kind = 'reply.send'"
        ),
        1,
        "the reply waits for a relay that works the queue"
    );
    assert!(d.meta.requests().is_empty(), "nothing sent to Meta");
}

/// The bench and the soak start their relays asking for warnings only: the harness still knows
/// when the relay is up (its "serving" line is written whatever the level) and the relay
/// answers.
#[test]
fn a_relay_started_with_warnings_only_is_still_known_to_be_up() {
    let d = Deployment::start(&[("RUST_LOG", "warn")]);
    let (status, _) = d.post_text(
        KASSANGAS_NUMBER,
        "254700000555",
        "What are your opening hours?",
        "wamid.routes.warn",
    );
    assert_eq!(status, 200);
    // Everything else keeps the level asked: the serving line is the log's only INFO line.
    let log = d.relay.log_text();
    let info: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"level\":\"INFO\""))
        .collect();
    assert_eq!(info.len(), 1, "{log}");
    assert!(info[0].contains("alphadome-relay serving"), "{log}");
}
