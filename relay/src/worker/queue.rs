//! The worker's side of the queue's SQL contract: claim_jobs, complete_jobs (the completions
//! that arrive together, in one statement), fail_job; and the jobs claimed here and not yet reported, so that
//! shutdown can hand them back.
use super::outcome::{self, Report};
use crate::backoff::DATABASE_RETRY;
use crate::batch::SetBatcher;
use crate::config::ServeArgs;
use crate::contract::Claimed;
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub struct Queue {
    pool: Pool,
    /// This worker's name in the queue (leases, logs).
    worker: String,
    lease_seconds: i32,
    /// Completions that arrive together are committed together, in one statement.
    completions: SetBatcher,
    metrics: Arc<Metrics>,
    in_flight: Mutex<HashSet<i64>>,
}

impl Queue {
    pub fn new(pool: Pool, args: &ServeArgs, metrics: Arc<Metrics>) -> Queue {
        let completions = SetBatcher::start(
            pool.clone(),
            "SELECT job_id, error_code, error FROM alphadome.complete_jobs($1, $2)",
            args.report_lanes,
            args.batch_max,
            "complete_jobs",
            metrics.clone(),
        );
        Queue {
            pool,
            worker: args.worker.clone(),
            lease_seconds: args.lease_seconds,
            completions,
            metrics,
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// At most `max` jobs of these kinds, leased to this worker.
    pub async fn claim(&self, kinds: &[&str], max: usize) -> anyhow::Result<Vec<Claimed>> {
        let client = self.pool.get().await?;
        let claim = client
            .prepare_cached("SELECT alphadome.claim_jobs($1, $2, $3, $4)")
            .await?;
        let rows = client
            .query(
                &claim,
                &[&self.worker, &(max as i32), &self.lease_seconds, &kinds],
            )
            .await?;
        let jobs: Vec<Claimed> = rows.iter().map(|r| Claimed::read(r.get(0))).collect();
        self.metrics.jobs("claimed", jobs.len() as u64);
        let mut in_flight = self.in_flight.lock().expect("in_flight lock");
        in_flight.extend(jobs.iter().filter_map(Claimed::id));
        Ok(jobs)
    }

    /// Reports a job's outcome and counts it.
    pub async fn finish(&self, id: i64, report: &Report) {
        // The database may be briefly away: keep trying within the lease, so the result is not lost.
        for retry in 1..=8 {
            match self.report(id, report).await {
                Ok(()) => {
                    self.metrics.jobs(outcome::label(report), 1);
                    self.forget(id);
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        job = id,
                        error = format!("{e:#}"),
                        "reporting the job result failed; retrying"
                    );
                    tokio::time::sleep(DATABASE_RETRY.delay(retry)).await;
                }
            }
        }
        tracing::error!(
            job = id,
            "could not report the job result; the lease will expire and the job run again"
        );
        self.forget(id);
    }

    /// At shutdown, once the running jobs are finished or aborted: those not reported are
    /// handed back, to be claimed again at once (one try each; failing that, their lease
    /// expires).
    pub async fn hand_back_unfinished(&self) {
        let left: Vec<i64> = self
            .in_flight
            .lock()
            .expect("in_flight lock")
            .drain()
            .collect();
        for id in left {
            match self.report(id, &outcome::handed_back()).await {
                Ok(()) => tracing::info!(job = id, "job handed back at shutdown"),
                Err(e) => {
                    tracing::warn!(
                        job = id,
                        error = format!("{e:#}"),
                        "could not hand the job back; its lease will expire"
                    )
                }
            }
        }
    }

    fn forget(&self, id: i64) {
        self.in_flight.lock().expect("in_flight lock").remove(&id);
    }

    /// complete_jobs (Ok: committed together with other completions) or fail_job (Err with the
    /// error and the retry delay).
    async fn report(&self, id: i64, report: &Report) -> anyhow::Result<()> {
        match report {
            Ok(result) => self
                .completions
                .call(id, result.clone())
                .await
                .map_err(|why| anyhow::anyhow!(why)),
            Err((error, retry)) => {
                let client = self.pool.get().await?;
                let fail = client
                    .prepare_cached("SELECT alphadome.fail_job($1, $2, $3)")
                    .await?;
                client.execute(&fail, &[&id, error, retry]).await?;
                Ok(())
            }
        }
    }
}
