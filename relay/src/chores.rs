//! The worker's scheduled chores: credential alerts, the owners' weekly summaries, history
//! retention, the hand-off clocks and the campaigns' pace. Each runs at start
//! and then once per period; a failure (the database down, say) is logged and tried again the
//! next period, never fatal. When pg_cron runs them in the database (alphadome.schedule_chores),
//! the relay's loop asks chores_scheduled() each period and stands idle.
use deadpool_postgres::{Object, Pool};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts `chore`: now, and every `seconds` (at least one) until `shutdown` turns true.
pub fn start<F, Fut>(
    pool: &Pool,
    seconds: u64,
    name: &'static str,
    shutdown: &watch::Receiver<bool>,
    chore: F,
) -> JoinHandle<()>
where
    F: Fn(Object) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    let period = Duration::from_secs(seconds.max(1));
    tokio::spawn(every(pool.clone(), period, name, shutdown.clone(), chore))
}

/// Runs `chore` now and every `period` until `shutdown` turns true.
async fn every<F, Fut>(
    pool: Pool,
    period: Duration,
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
    chore: F,
) where
    F: Fn(Object) -> Fut,
    Fut: Future<Output = Result<(), tokio_postgres::Error>>,
{
    let mut in_database = false;
    loop {
        match pool.get().await {
            Ok(client) => match scheduled_in_database(&client).await {
                Ok(true) => {
                    if !in_database {
                        tracing::info!(
                            chore = name,
                            "pg_cron runs this chore in the database: the relay's loop is idle"
                        );
                    }
                    in_database = true;
                }
                scheduled => {
                    if in_database {
                        tracing::info!(
                            chore = name,
                            "pg_cron no longer runs this chore: the relay does"
                        );
                    }
                    in_database = false;
                    // Unknown (an extension older than the relay, say): the relay runs it.
                    if let Err(e) = scheduled {
                        tracing::warn!(
                            chore = name,
                            error = alphadome_service::database::describe(&e),
                            "could not ask whether pg_cron runs the chores: the relay runs this one"
                        );
                    }
                    if let Err(e) = chore(client).await {
                        tracing::warn!(
                            chore = name,
                            error = alphadome_service::database::describe(&e),
                            "scheduled chore failed"
                        );
                    }
                }
            },
            Err(e) => tracing::warn!(
                chore = name,
                error = format!("{e:#}"),
                "scheduled chore: database unavailable"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Campaigns (campaign_chores) every second, whether or not pg_cron runs the other chores (its
/// minute is too coarse to pace sends): scheduled campaigns launched, the send lane kept two
/// seconds ahead at each number's rate, finished campaigns marked done.
pub fn start_campaigns(pool: &Pool, shutdown: &watch::Receiver<bool>) -> JoinHandle<()> {
    let (pool, mut shutdown) = (pool.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            match pool.get().await {
                Ok(client) => {
                    if let Err(e) = campaigns(&client).await {
                        tracing::warn!(
                            chore = "campaigns",
                            error = alphadome_service::database::describe(&e),
                            "scheduled chore failed"
                        );
                    }
                }
                Err(e) => tracing::warn!(
                    chore = "campaigns",
                    error = format!("{e:#}"),
                    "scheduled chore: database unavailable"
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(CAMPAIGN_PERIOD) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// How often campaign_chores runs: it queues two seconds of sends ahead.
const CAMPAIGN_PERIOD: Duration = Duration::from_secs(1);

async fn campaigns(client: &Object) -> Result<(), tokio_postgres::Error> {
    let counts: serde_json::Value = client
        .query_one("SELECT alphadome.campaign_chores()", &[])
        .await?
        .get(0);
    let count = |key: &str| counts[key].as_i64().unwrap_or(0);
    let (launched, done) = (count("launched"), count("done"));
    if launched > 0 || done > 0 {
        tracing::info!(launched, done, "campaigns launched or finished");
    }
    Ok(())
}

/// Whether pg_cron runs the chores of this database (alphadome.schedule_chores).
async fn scheduled_in_database(client: &Object) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT alphadome.chores_scheduled()", &[])
        .await?
        .get(0))
}

/// Queues credential alerts (at most one per tenant per day).
pub async fn credential_alerts(client: Object) -> Result<(), tokio_postgres::Error> {
    let queued: i32 = client
        .query_one("SELECT alphadome.enqueue_credential_alerts()", &[])
        .await?
        .get(0);
    if queued > 0 {
        tracing::info!(queued, "credential alerts queued");
    }
    Ok(())
}

/// Queues each owner's weekly summary (enqueue_weekly_summaries: the week's figures and the
/// questions the FAQ did not answer most), once a week per tenant.
pub async fn weekly_summaries(client: Object) -> Result<(), tokio_postgres::Error> {
    let queued: i32 = client
        .query_one("SELECT alphadome.enqueue_weekly_summaries()", &[])
        .await?
        .get(0);
    if queued > 0 {
        tracing::info!(queued, "weekly summaries queued");
    }
    Ok(())
}

/// The hand-off clocks (handoff_chores): reminders for customers waiting for a person, and
/// timeouts that give the conversation back to the bot.
pub async fn handoff_clocks(client: Object) -> Result<(), tokio_postgres::Error> {
    let counts: serde_json::Value = client
        .query_one("SELECT alphadome.handoff_chores()", &[])
        .await?
        .get(0);
    let count = |key: &str| counts[key].as_i64().unwrap_or(0);
    let (reminded, resumed) = (count("reminded"), count("resumed"));
    if reminded > 0 || resumed > 0 {
        tracing::info!(reminded, resumed, "hand-off clocks ran");
    }
    Ok(())
}

/// Rolls usage up and removes raw payloads, finished jobs, past counters and messages past
/// their tenant's retention older than `keep_days` (prune_history), then credential audit rows
/// older than `keep_audit_days` (prune_credential_audit): a batch per transaction until none is
/// left.
pub async fn prune_history(
    client: Object,
    keep_days: i32,
    keep_audit_days: i32,
) -> Result<(), tokio_postgres::Error> {
    let statement = client
        .prepare("SELECT alphadome.prune_history(make_interval(days => $1))")
        .await?;
    let mut removed = std::collections::BTreeMap::<String, i64>::new();
    loop {
        let counts: serde_json::Value = client.query_one(&statement, &[&keep_days]).await?.get(0);
        let mut any = false;
        for (table, n) in counts.as_object().into_iter().flatten() {
            let n = n.as_i64().unwrap_or(0);
            *removed.entry(table.clone()).or_default() += n;
            any |= n > 0;
        }
        if !any {
            break;
        }
    }
    let audit = client
        .prepare("SELECT alphadome.prune_credential_audit(make_interval(days => $1))")
        .await?;
    let mut audit_rows = 0i64;
    loop {
        let n: i64 = client.query_one(&audit, &[&keep_audit_days]).await?.get(0);
        audit_rows += n;
        if n == 0 {
            break;
        }
    }
    if audit_rows > 0 || removed.values().any(|n| *n > 0) {
        tracing::info!(
            removed = ?removed,
            credential_audit = audit_rows,
            keep_days,
            keep_audit_days,
            "history pruned"
        );
    }
    Ok(())
}
