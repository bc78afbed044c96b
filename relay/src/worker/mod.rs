//! The outbound worker: wakes on NOTIFY alphadome_outbox (and polls anyway), claims jobs in
//! lanes, runs each by its kind, and reports each result back to the queue. This file: the
//! claim loop, the dispatch by kind, shutdown.

// One module per kind of job.
mod alert; // alert.send
mod campaign; // campaign.send
mod embed; // faq.embed, and reply.generate's semantic FAQ step
mod generate; // reply.generate
mod payment; // payment.stk_push, payment.query
mod send; // reply.send
mod templates; // templates.sync, templates.submit
mod transcribe; // media.transcribe

// What the kinds share.
mod lanes; // which kinds are claimed together, how many at once
mod listen; // NOTIFY: wake the lanes, reread the routes
mod outbound; // the clients the jobs call, timed into the metrics
mod outcome; // what an attempt comes to, as the queue takes it
mod queue; // claim_jobs, complete_job, fail_job

use crate::backoff::DATABASE_RETRY;
use crate::chores;
use crate::config::ServeArgs;
use crate::contract::{Claimed, Job, Work};
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use lanes::Lane;
use listen::Wake;
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
    /// Campaign sends of each number, kept 1/rate apart.
    pacer: campaign::Pacer,
    /// Raised by NOTIFY alphadome_tenants: the webhook routes are read again.
    pub tenants_changed: Arc<Notify>,
}

impl Worker {
    pub fn new(
        pool: Pool,
        args: ServeArgs,
        metrics: Arc<Metrics>,
        tenants_changed: Arc<Notify>,
    ) -> anyhow::Result<Worker> {
        let outbound = Outbound::new(&args, metrics.clone())?;
        let queue = Queue::new(pool.clone(), &args, metrics.clone());
        let lanes = lanes::lanes(args.concurrency, args.llm_concurrency);
        Ok(Worker {
            pool,
            args,
            metrics,
            outbound,
            lanes,
            queue,
            pacer: campaign::Pacer::default(),
            tenants_changed,
        })
    }

    /// Runs until `shutdown` turns true; then stops claiming, gives in-flight jobs the grace
    /// period, and hands back (requeues) any still running.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let worker = self.clone();
        let listener = tokio::spawn(listen::listen(
            self.args.database.clone(),
            self.metrics.clone(),
            Arc::new(move |wake| worker.wake(wake)),
            shutdown.clone(),
        ));
        let (pool, args) = (&self.pool, &self.args);
        let (keep_days, keep_audit_days) = (args.keep_days, args.keep_audit_days);
        let chores = [
            chores::start(
                pool,
                args.credential_check_seconds,
                "credential alerts",
                &shutdown,
                chores::credential_alerts,
            ),
            // Hourly too: each owner's summary is queued once a week (Monday, the shop's time).
            chores::start(
                pool,
                args.credential_check_seconds,
                "weekly summaries",
                &shutdown,
                chores::weekly_summaries,
            ),
            chores::start(
                pool,
                args.prune_seconds,
                "history retention",
                &shutdown,
                move |client| chores::prune_history(client, keep_days, keep_audit_days),
            ),
            chores::start(
                pool,
                args.handoff_chore_seconds,
                "hand-off clocks",
                &shutdown,
                chores::handoff_clocks,
            ),
            chores::start_campaigns(pool, &shutdown),
        ];
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
        chores.iter().for_each(|chore| chore.abort());
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
                                // A campaign send waiting for its number's turn holds no
                                // permit: replies go meanwhile.
                                let permit = match campaign_number(&job) {
                                    Some((number, rate)) => {
                                        drop(permit);
                                        worker.pacer.wait(&number, rate).await;
                                        None
                                    }
                                    None => Some(permit),
                                };
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
            if lanes::claim_again_at_once(claimed, free) {
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

    /// What a notification (or a new LISTEN session) asks for.
    fn wake(&self, wake: Wake) {
        match wake {
            Wake::Lanes => {
                for lane in &self.lanes {
                    lane.wake.notify_one();
                }
            }
            Wake::Routes => self.tenants_changed.notify_one(),
        }
    }

    /// The running jobs get the grace period; those still running then are aborted and, like
    /// any not reported, handed back.
    async fn drain(&self, mut running: Vec<JoinSet<()>>) {
        let grace = Duration::from_secs(self.args.shutdown_grace_seconds);
        let finished = tokio::time::timeout(grace, async {
            for tasks in running.iter_mut() {
                while tasks.join_next().await.is_some() {}
            }
        })
        .await;
        if finished.is_err() {
            for tasks in running.iter_mut() {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        }
        self.queue.hand_back_unfinished().await;
        tracing::info!("worker stopped");
    }

    /// A claimed job, run (or failed for good when malformed) and reported.
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
            } => {
                let media = payload.media.as_ref();
                generate::answer(out, &self.pool, job.id, llm, whatsapp.as_ref(), media).await
            }
            Work::FaqEmbed { llm, embed } => embed::faq(out, llm, embed).await,
            Work::Transcribe {
                llm,
                whatsapp,
                payload,
            } => transcribe::transcript(out, llm, whatsapp, &payload.media).await,
            Work::TemplatesSync { whatsapp } => templates::sync(out, whatsapp).await,
            Work::PaymentPush { mpesa } => payment::push(out, mpesa).await,
            Work::PaymentQuery { mpesa } => payment::query(out, mpesa).await,
            Work::TemplatesSubmit { whatsapp, payload } => {
                templates::submit(out, whatsapp, payload).await
            }
            Work::CampaignSend { whatsapp, payload } => {
                campaign::send(out, whatsapp, payload).await
            }
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
}

/// The number a claimed campaign send goes from, and its pace; None for other jobs.
fn campaign_number(claimed: &Claimed) -> Option<(String, u32)> {
    let Claimed::Job(job) = claimed else {
        return None;
    };
    let Work::CampaignSend { whatsapp, payload } = &job.work else {
        return None;
    };
    Some((whatsapp.phone_number_id.clone(), payload.rate))
}
