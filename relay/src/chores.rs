//! The worker's scheduled chores: credential alerts, history retention and the hand-off clocks. Each runs at start
//! and then once per period; a failure (the database down, say) is logged and tried again the
//! next period, never fatal.
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
    loop {
        match pool.get().await {
            Ok(client) => {
                if let Err(e) = chore(client).await {
                    tracing::warn!(
                        chore = name,
                        error = alphadome_service::database::describe(&e),
                        "scheduled chore failed"
                    );
                }
            }
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

/// Removes raw payloads, finished jobs and past counters older than `keep_days`, a batch per
/// transaction until none is left (prune_history).
pub async fn prune_history(client: Object, keep_days: i32) -> Result<(), tokio_postgres::Error> {
    const TABLES: [&str; 3] = ["webhook_events", "outbox", "reply_counters"];
    let statement = client
        .prepare("SELECT alphadome.prune_history(make_interval(days => $1))")
        .await?;
    let mut removed = [0i64; 3];
    loop {
        let counts: serde_json::Value = client.query_one(&statement, &[&keep_days]).await?.get(0);
        let batch = TABLES.map(|table| counts[table].as_i64().unwrap_or(0));
        removed
            .iter_mut()
            .zip(batch)
            .for_each(|(total, n)| *total += n);
        if batch.iter().all(|n| *n == 0) {
            break;
        }
    }
    if removed.iter().any(|n| *n > 0) {
        let [webhook_events, outbox, reply_counters] = removed;
        tracing::info!(
            webhook_events,
            outbox,
            reply_counters,
            keep_days,
            "history pruned"
        );
    }
    Ok(())
}
