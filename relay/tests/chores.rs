//! The chores run once, by pg_cron when the database schedules them (alphadome.schedule_chores),
//! else by the relay; and the relay's /metrics carries the per-tenant figures of metrics().
mod common;

use common::Deployment;
use std::time::{Duration, Instant};

/// An old raw webhook (40 days): the next retention run removes it.
const OLD_WEBHOOK: &str = "INSERT INTO alphadome.webhook_events (payload, received_at)
                           VALUES ('{\"old\": true}', now() - interval '40 days')";
const OLD_WEBHOOKS: &str =
    "SELECT count(*) FROM alphadome.webhook_events WHERE received_at < now() - interval '30 days'";

fn wait_for_log(d: &Deployment, line: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !d.relay.log_text().contains(line) {
        assert!(
            Instant::now() < deadline,
            "no '{line}' in the relay's log:\n{}",
            d.relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_pg_cron_the_database_runs_the_chores_and_the_relay_stands_idle_until_they_are_unscheduled()
{
    let d = Deployment::start_with(
        &[
            "shared_preload_libraries=pg_cron",
            "cron.database_name=shop",
            "cron.use_background_workers=on",
        ],
        |db| {
            db.batch_execute(&format!(
                "CREATE EXTENSION pg_cron;
                 SELECT count(*) FROM alphadome.schedule_chores(retention_schedule => '* * * * *');
                 {OLD_WEBHOOK};"
            ))
            .unwrap()
        },
        // The relay would prune at once and every second if it ran the chores.
        &[
            ("ALPHADOME_PRUNE_SECONDS", "1"),
            ("ALPHADOME_HANDOFF_CHORE_SECONDS", "1"),
            ("ALPHADOME_CREDENTIAL_CHECK_SECONDS", "1"),
        ],
    );
    wait_for_log(
        &d,
        "pg_cron runs this chore in the database: the relay's loop is idle",
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(d.count(OLD_WEBHOOKS), 1, "the relay did not prune");
    assert!(!d.relay.log_text().contains("history pruned"));

    // pg_cron's minute comes: its job prunes, as the superuser that scheduled it.
    d.wait_for(
        "pg_cron's retention run",
        &format!("SELECT ({OLD_WEBHOOKS}) = 0"),
        Duration::from_secs(90),
    );
    // The rows go at the first batch's commit; the run is 'succeeded' once the whole CALL ends.
    d.wait_for(
        "pg_cron's record of the run",
        "SELECT EXISTS (SELECT FROM cron.job_run_details r JOIN cron.job j USING (jobid)
                         WHERE j.jobname = 'alphadome-retention' AND r.status = 'succeeded')",
        Duration::from_secs(30),
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.chore_runs WHERE chore = 'prune_history'"),
        1
    );
    assert!(
        !d.relay.log_text().contains("history pruned"),
        "the relay stood idle"
    );

    // Unscheduled: the relay runs them again.
    assert_eq!(d.count("SELECT alphadome.unschedule_chores()::bigint"), 4);
    d.db().batch_execute(OLD_WEBHOOK).unwrap();
    wait_for_log(
        &d,
        "pg_cron no longer runs this chore: the relay does",
        Duration::from_secs(10),
    );
    d.wait_for(
        "the relay's retention run",
        &format!("SELECT ({OLD_WEBHOOKS}) = 0"),
        Duration::from_secs(10),
    );
    wait_for_log(&d, "history pruned", Duration::from_secs(5));
}

/// /metrics on the admin listener: the figures of alphadome.metrics() per tenant slug, read at
/// most every 15 s.
#[test]
fn metrics_carry_each_tenants_queue_and_dead_letters() {
    let d = Deployment::start(&[]);
    d.db()
        .batch_execute(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, last_error)
             SELECT id, 'reply.send', '{}', 'dead', '{\"class\": \"meta_4xx\"}'
               FROM alphadome.bot_tenants WHERE slug = 'other-shop';
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, run_at)
             SELECT id, 'reply.send', '{}', now() + interval '1 hour'
               FROM alphadome.bot_tenants WHERE slug = 'other-shop';",
        )
        .unwrap();
    let (status, text) = d.relay.admin_get("/metrics");
    assert_eq!(status, 200);
    for expected in [
        "alphadome_tenant_dead_jobs{tenant=\"other-shop\",reason=\"meta_4xx\"} 1.0",
        "alphadome_tenant_queued_jobs{tenant=\"other-shop\"} 1.0",
        "alphadome_tenant_runnable_jobs{tenant=\"other-shop\"} 0.0",
        "alphadome_tenant_paused{tenant=\"kassangas\"} 0.0",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    // Read again only after 15 s: a second dead job is not seen at once.
    d.db()
        .batch_execute(
            "INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, last_error)
             SELECT id, 'reply.send', '{}', 'dead', '{\"class\": \"meta_4xx\"}'
               FROM alphadome.bot_tenants WHERE slug = 'other-shop'",
        )
        .unwrap();
    let (_, again) = d.relay.admin_get("/metrics");
    assert!(
        again.contains("alphadome_tenant_dead_jobs{tenant=\"other-shop\",reason=\"meta_4xx\"} 1.0"),
        "{again}"
    );
}

/// A customer's question of last Thursday (the shop's time) that no entry answers; the AI did.
const LAST_WEEKS_QUESTION: &str = "WITH c AS (INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id)
                    SELECT id, '254711000888', '254711000888' FROM alphadome.bot_tenants WHERE slug = 'kassangas'
                    RETURNING bot_tenant_id, id)
         INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, body, decision, created_at)
         SELECT c.bot_tenant_id, c.id, 'inbound', 'wamid.last-week', 'Do you sell violin bows?', 'llm',
                (date_trunc('week', now() AT TIME ZONE 'Africa/Nairobi') - interval '4 days') AT TIME ZONE 'Africa/Nairobi'
           FROM c";

/// The relay's hourly chore queues each owner's weekly summary (enqueue_weekly_summaries): last
/// week's figures and the question the FAQ missed, as an alert (which goes by the alert's
/// channels, tests/alerts.rs), once.
#[test]
fn the_relay_sends_the_owner_last_weeks_summary_with_the_question_the_faq_missed() {
    let d = Deployment::start_with(
        &[],
        |db| db.batch_execute(LAST_WEEKS_QUESTION).unwrap(),
        &[],
    );
    d.wait_for(
        "the weekly summary queued",
        "SELECT EXISTS (SELECT FROM alphadome.alerts WHERE kind = 'weekly_summary'
                          AND text LIKE '%1. \"Do you sell violin bows?\" (once)%')",
        Duration::from_secs(30),
    );
    wait_for_log(&d, "weekly summaries queued", Duration::from_secs(5));
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'weekly_summary'"),
        1,
        "one, for the shop that had customers"
    );
}
