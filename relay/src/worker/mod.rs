//! The outbound worker: wakes on NOTIFY alphadome_outbox (and polls anyway), claims jobs,
//! calls Meta or the LLM, and reports each result back to the queue.
mod alert;
mod generate;
mod outbound;
mod outcome;
mod queue;
mod send;
mod transcribe;

use crate::backoff::DATABASE_RETRY;
use crate::chores;
use crate::config::ServeArgs;
use crate::contract::{Claimed, Job, Work};
use crate::db;
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use outbound::Outbound;
use outcome::Report;
use queue::Queue;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

pub struct Worker {
    pub pool: Pool,
    pub args: ServeArgs,
    pub metrics: Arc<Metrics>,
    outbound: Outbound,
    /// Jobs are claimed and run in lanes, so that slow LLM calls never hold up sends and alerts.
    lanes: [Lane; 2],
    queue: Queue,
    /// Raised by NOTIFY alphadome_tenants: the webhook routes are read again.
    pub tenants_changed: Arc<Notify>,
}

/// Jobs of some kinds, claimed and run with a concurrency of their own.
struct Lane {
    name: &'static str,
    kinds: &'static [&'static str],
    concurrency: usize,
    /// Raised by NOTIFY alphadome_outbox (a permit is kept if the lane is busy: no wake-up lost).
    wake: Notify,
}

/// Calls that take seconds (the LLM, transcriptions): many at once, since they only wait.
const SLOW_KINDS: &[&str] = &["reply.generate", "media.transcribe"];
/// Calls that take milliseconds (Meta's sends, alerts).
const FAST_KINDS: &[&str] = &["reply.send", "alert.send"];

impl Worker {
    pub fn new(
        pool: Pool,
        args: ServeArgs,
        metrics: Arc<Metrics>,
        tenants_changed: Arc<Notify>,
    ) -> anyhow::Result<Worker> {
        let outbound = Outbound::new(&args, metrics.clone())?;
        let queue = Queue::new(pool.clone(), &args, metrics.clone());
        let lanes = [
            Lane {
                name: "fast",
                kinds: FAST_KINDS,
                concurrency: args.concurrency.max(1),
                wake: Notify::new(),
            },
            Lane {
                name: "slow",
                kinds: SLOW_KINDS,
                concurrency: args.llm_concurrency.max(1),
                wake: Notify::new(),
            },
        ];
        Ok(Worker {
            pool,
            args,
            metrics,
            outbound,
            lanes,
            queue,
            tenants_changed,
        })
    }

    /// Runs until `shutdown` turns true; then stops claiming, gives in-flight jobs the grace
    /// period, and hands back (requeues) any still running.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let listener = tokio::spawn(self.clone().listen(shutdown.clone()));
        let credentials = tokio::spawn(chores::every(
            self.pool.clone(),
            Duration::from_secs(self.args.credential_check_seconds.max(1)),
            "credential alerts",
            shutdown.clone(),
            chores::credential_alerts,
        ));
        let keep_days = self.args.keep_days;
        let retention = tokio::spawn(chores::every(
            self.pool.clone(),
            Duration::from_secs(self.args.prune_seconds.max(1)),
            "history retention",
            shutdown.clone(),
            move |client| chores::prune_history(client, keep_days),
        ));
        let lanes: Vec<_> = (0..self.lanes.len())
            .map(|lane| tokio::spawn(self.clone().run_lane(lane, shutdown.clone())))
            .collect();
        let mut tasks = Vec::new();
        for lane in lanes {
            if let Ok(running) = lane.await {
                tasks.push(running);
            }
        }
        listener.abort();
        credentials.abort();
        retention.abort();
        self.drain(tasks).await;
    }

    /// One lane: claims what its permits allow, runs each job, until shutdown; returns the
    /// jobs still running then.
    async fn run_lane(
        self: Arc<Self>,
        index: usize,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinSet<()> {
        let lane = &self.lanes[index];
        let permits = Arc::new(Semaphore::new(lane.concurrency));
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match self.queue.claim(lane.kinds, free).await {
                    Ok(jobs) => {
                        failures = 0;
                        claimed = jobs.len();
                        for job in jobs {
                            let permit = permits
                                .clone()
                                .acquire_owned()
                                .await
                                .expect("the semaphore is never closed");
                            let worker = self.clone();
                            tasks.spawn(async move {
                                worker.execute(job).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(
                            lane = lane.name,
                            error = format!("{e:#}"),
                            "claiming jobs failed; retrying"
                        );
                        let pause = DATABASE_RETRY.delay(failures);
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = shutdown.changed() => {}
                        }
                        continue;
                    }
                }
            }
            // A full batch may mean more are waiting: claim again at once.
            if claimed > 0 && claimed == free {
                continue;
            }
            tokio::select! {
                _ = lane.wake.notified() => {}
                _ = tokio::time::sleep(self.args.poll_interval()) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
        tasks
    }

    /// New jobs may be waiting: every lane claims.
    fn wake_all(&self) {
        for lane in &self.lanes {
            lane.wake.notify_one();
        }
    }

    async fn drain(&self, mut lanes: Vec<JoinSet<()>>) {
        let grace = Duration::from_secs(self.args.shutdown_grace_seconds);
        let finished = tokio::time::timeout(grace, async {
            for tasks in lanes.iter_mut() {
                while tasks.join_next().await.is_some() {}
            }
        })
        .await;
        if finished.is_err() {
            for tasks in lanes.iter_mut() {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        }
        self.queue.hand_back_unfinished().await;
        tracing::info!("worker stopped");
    }

    async fn execute(&self, claimed: Claimed) {
        let (id, report) = match claimed {
            Claimed::Job(job) => (job.id, self.attempt(&job).await),
            Claimed::Malformed {
                id: Some(id),
                reason,
            } => {
                tracing::error!(job = id, reason, "malformed job: failing it for good");
                (id, outcome::malformed(&reason))
            }
            Claimed::Malformed { id: None, reason } => {
                tracing::error!(reason, "a claimed job has no id; its lease will expire");
                return;
            }
        };
        self.queue.finish(id, &report).await;
    }

    /// One attempt of a job: the call it needs, and what to report.
    async fn attempt(&self, job: &Job) -> Report {
        let out = &self.outbound;
        let outcome = match &job.work {
            Work::ReplySend { whatsapp, payload } => {
                send::reply(out, job.id, whatsapp, payload).await
            }
            Work::AlertSend { alert, whatsapp } => {
                alert::deliver(out, job.id, &job.tenant, alert, whatsapp.as_ref()).await
            }
            Work::Generate {
                llm,
                whatsapp,
                payload,
            } => generate::answer(out, llm, whatsapp.as_ref(), payload.media.as_ref()).await,
            Work::Transcribe {
                llm,
                whatsapp,
                payload,
            } => transcribe::transcript(out, llm, whatsapp, &payload.media).await,
        };
        let (id, kind, attempt, tenant) =
            (job.id, job.work.kind(), job.attempt, job.tenant.as_str());
        match outcome {
            Ok(result) => {
                tracing::info!(job = id, kind, attempt, tenant, "job done");
                Ok(result)
            }
            Err(failure) => {
                tracing::warn!(job = id, kind, attempt, tenant, class = failure.label(),
                               code = failure.code, message = %failure.message, "job attempt failed");
                let base = Duration::from_secs(self.args.retry_base_seconds);
                outcome::failed(&failure, attempt, base)
            }
        }
    }

    /// LISTEN on a session of its own; after every (re)connect, LISTEN again and poll once.
    async fn listen(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut failures = 0;
        while !*shutdown.borrow() {
            match db::connect(&self.args.database).await {
                Ok((client, mut connection)) => {
                    let worker = self.clone();
                    let driver = tokio::spawn(async move {
                        use futures_util::future::poll_fn;
                        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                            match message {
                                Ok(tokio_postgres::AsyncMessage::Notification(n))
                                    if n.channel() == "alphadome_tenants" =>
                                {
                                    worker.tenants_changed.notify_one()
                                }
                                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                    worker.wake_all()
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(
                                        error = crate::db::describe(&e),
                                        "LISTEN connection lost"
                                    );
                                    break;
                                }
                            }
                        }
                    });
                    match client
                        .batch_execute("LISTEN alphadome_outbox; LISTEN alphadome_tenants")
                        .await
                    {
                        Ok(()) => {
                            failures = 0;
                            // Whatever happened while away: poll once, read the routes again.
                            self.wake_all();
                            self.tenants_changed.notify_one();
                            let _ = driver.await;
                        }
                        Err(e) => {
                            tracing::warn!(error = crate::db::describe(&e), "LISTEN failed");
                            driver.abort();
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot connect for LISTEN; retrying"
                ),
            }
            self.metrics.worker_reconnect();
            failures += 1;
            tokio::time::sleep(DATABASE_RETRY.delay(failures)).await;
        }
    }
}
