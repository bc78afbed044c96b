//! The outbound worker: wakes on NOTIFY alphadome_outbox (and polls anyway), claims jobs,
//! calls Meta or the LLM, and reports each result back to the queue.
use crate::chores;
use crate::clients::llm::Llm;
use crate::clients::meta::{Meta, Outgoing};
use crate::clients::{Class, Failure};
use crate::config::ServeArgs;
use crate::db;
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

pub struct Worker {
    pub pool: Pool,
    pub args: ServeArgs,
    pub metrics: Arc<Metrics>,
    meta: Meta,
    llm: Llm,
    wake: Notify,
    in_flight: Mutex<HashSet<i64>>,
}

impl Worker {
    pub fn new(pool: Pool, args: ServeArgs, metrics: Arc<Metrics>) -> anyhow::Result<Worker> {
        let meta = Meta::new(
            &args.meta_graph_url,
            Duration::from_secs(args.meta_timeout_seconds),
        )?;
        let llm = Llm::new(Duration::from_secs(args.llm_timeout_seconds))?;
        Ok(Worker {
            pool,
            args,
            metrics,
            meta,
            llm,
            wake: Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
        })
    }

    /// Runs until `shutdown` turns true; then stops claiming, gives in-flight jobs the grace
    /// period, and hands back (requeues) any still running.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
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
        let permits = Arc::new(Semaphore::new(self.args.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free).await {
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
                        tracing::warn!(error = format!("{e:#}"), "claiming jobs failed; retrying");
                        let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
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
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.args.poll_interval()) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
        listener.abort();
        credentials.abort();
        retention.abort();
        self.drain(tasks).await;
    }

    async fn drain(&self, mut tasks: JoinSet<()>) {
        let grace = Duration::from_secs(self.args.shutdown_grace_seconds);
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        let left: Vec<i64> = self
            .in_flight
            .lock()
            .expect("in_flight lock")
            .drain()
            .collect();
        for id in left {
            let error =
                json!({"class": "transient", "message": "the relay shut down during this attempt"});
            match self.report(id, Err((error, Some(0)))).await {
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
        tracing::info!("worker stopped");
    }

    async fn claim(&self, max: usize) -> anyhow::Result<Vec<Value>> {
        let client = self.pool.get().await?;
        let claim = client
            .prepare_cached("SELECT alphadome.claim_jobs($1, $2, $3)")
            .await?;
        let rows = client
            .query(
                &claim,
                &[&self.args.worker, &(max as i32), &self.args.lease_seconds],
            )
            .await?;
        let jobs: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
        Metrics::add(&self.metrics.jobs_claimed, jobs.len() as u64);
        let mut in_flight = self.in_flight.lock().expect("in_flight lock");
        in_flight.extend(jobs.iter().filter_map(|j| j["id"].as_i64()));
        Ok(jobs)
    }

    async fn execute(&self, job: Value) {
        let id = job["id"].as_i64().unwrap_or_default();
        let kind = job["kind"].as_str().unwrap_or_default();
        let attempt = job["attempt"].as_i64().unwrap_or(1);
        let outcome = match kind {
            "reply.send" | "alert.send" => self.send(&job).await,
            "reply.generate" => self.generate(&job).await,
            other => Err(Failure::new(
                Class::Permanent,
                format!("unknown job kind {other}"),
            )),
        };
        let report = match &outcome {
            Ok(result) => Ok(result.clone()),
            Err(failure) => {
                tracing::warn!(job = id, kind, attempt, tenant = %job["tenant"], class = ?failure.class,
                               code = ?failure.code, message = %failure.message, "job attempt failed");
                Err((
                    failure.to_json(),
                    failure.retry_in(attempt, self.args.retry_base_seconds),
                ))
            }
        };
        let retried = matches!(&report, Err((_, Some(_))));
        // The database may be briefly away: keep trying within the lease, so the result is not lost.
        let mut delay = Duration::from_millis(100);
        for _ in 0..8 {
            match self.report(id, report.clone()).await {
                Ok(()) => {
                    let counter = match (&outcome, retried) {
                        (Ok(_), _) => &self.metrics.jobs_completed,
                        (Err(_), true) => &self.metrics.jobs_retried,
                        (Err(_), false) => &self.metrics.jobs_failed,
                    };
                    Metrics::add(counter, 1);
                    if outcome.is_ok() {
                        tracing::info!(job = id, kind, attempt, tenant = %job["tenant"], "job done");
                    }
                    self.in_flight.lock().expect("in_flight lock").remove(&id);
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        job = id,
                        error = format!("{e:#}"),
                        "reporting the job result failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::error!(
            job = id,
            "could not report the job result; the lease will expire and the job run again"
        );
        self.in_flight.lock().expect("in_flight lock").remove(&id);
    }

    /// complete_job (Ok) or fail_job (Err with the error and the retry delay).
    async fn report(
        &self,
        id: i64,
        result: Result<Value, (Value, Option<i32>)>,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        match result {
            Ok(result) => {
                let complete = client
                    .prepare_cached("SELECT alphadome.complete_job($1, $2)")
                    .await?;
                client.execute(&complete, &[&id, &result]).await?
            }
            Err((error, retry)) => {
                let fail = client
                    .prepare_cached("SELECT alphadome.fail_job($1, $2, $3)")
                    .await?;
                client.execute(&fail, &[&id, &error, &retry]).await?
            }
        };
        Ok(())
    }

    async fn send(&self, job: &Value) -> Result<Value, Failure> {
        if self.args.dry_run {
            return Ok(json!({"status": "simulated"}));
        }
        let payload = &job["payload"];
        let whatsapp = &job["whatsapp"];
        let out = Outgoing {
            phone_number_id: whatsapp["phone_number_id"].as_str().unwrap_or_default(),
            token: whatsapp["access_token"].as_str().unwrap_or_default(),
            to: payload["to"].as_str(),
            recipient: payload["recipient"].as_str(),
            text: payload["text"].as_str().unwrap_or_default(),
            context: payload["context_wamid"].as_str(),
        };
        if let Some(inbound) = out.context {
            // Blue ticks first; a failure here must not stop the answer.
            if let Err(f) = self
                .meta
                .mark_read(out.phone_number_id, out.token, inbound)
                .await
            {
                tracing::warn!(job = %job["id"], class = ?f.class, code = ?f.code, "read receipt failed");
                if f.class == Class::Auth {
                    return Err(f);
                }
            }
        }
        let wamid = self.meta.send_text(&out).await?;
        Ok(json!({"wamid": wamid, "status": "sent"}))
    }

    async fn generate(&self, job: &Value) -> Result<Value, Failure> {
        if self.args.dry_run {
            return Ok(json!({"content": "(dry run: the AI would answer here)"}));
        }
        let llm = &job["llm"];
        let base = llm["base_url"].as_str().unwrap_or(&self.args.llm_base_url);
        let content = self
            .llm
            .complete(base, llm["api_key"].as_str(), &llm["request"])
            .await?;
        Ok(json!({"content": content}))
    }

    /// LISTEN on a session of its own; after every (re)connect, LISTEN again and poll once.
    async fn listen(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut delay = Duration::from_millis(100);
        while !*shutdown.borrow() {
            match db::connect(&self.args.database).await {
                Ok((client, mut connection)) => {
                    let worker = self.clone();
                    let driver = tokio::spawn(async move {
                        use futures_util::future::poll_fn;
                        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                            match message {
                                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                    worker.wake.notify_one()
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
                    match client.batch_execute("LISTEN alphadome_outbox").await {
                        Ok(()) => {
                            delay = Duration::from_millis(100);
                            self.wake.notify_one();
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
            Metrics::add(&self.metrics.worker_reconnects, 1);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}
