//! The outbound worker: wakes on NOTIFY alphadome_outbox (and polls anyway), claims jobs,
//! calls Meta or the LLM, and reports each result back to the queue.
use crate::backoff::Backoff;
use crate::batch::{Batcher, Failed};
use crate::chores;
use crate::clients::email::Email;
use crate::clients::llm::{self, Llm};
use crate::clients::media::Purpose;
use crate::clients::meta::{Meta, Outgoing};
use crate::clients::operator::OperatorHook;
use crate::clients::{Class, Failure};
use crate::config::{ServeArgs, APPLICATION_NAME};
use crate::contract::{
    AlertCall, Claimed, Job, LlmCall, Media, Send, TranscriptionCall, WhatsApp, Work,
};
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
    /// Alerts by email (ALPHADOME_SMTP_URL) and to the operator's webhook, when configured.
    email: Option<Email>,
    operator_hook: Option<OperatorHook>,
    /// Jobs are claimed and run in lanes, so that slow LLM calls never hold up sends and alerts.
    lanes: [Lane; 2],
    /// complete_job calls that arrive together are committed together.
    completions: Batcher,
    /// Raised by NOTIFY alphadome_tenants: the webhook routes are read again.
    pub tenants_changed: Arc<Notify>,
    in_flight: Mutex<HashSet<i64>>,
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

/// Retries of the worker's own database calls (claims, reports, the LISTEN session).
const DATABASE_RETRY: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

/// What a job's attempt comes to: its result for complete_job, or its error and retry delay
/// (None: for good) for fail_job.
type Report = Result<Value, (Value, Option<i32>)>;

impl Worker {
    pub fn new(
        pool: Pool,
        args: ServeArgs,
        metrics: Arc<Metrics>,
        tenants_changed: Arc<Notify>,
    ) -> anyhow::Result<Worker> {
        let meta = Meta::new(
            &args.meta_graph_url,
            Duration::from_secs(args.meta_timeout_seconds),
        )?;
        let llm = Llm::new(Duration::from_secs(args.llm_timeout_seconds))?;
        let timeout = Duration::from_secs(args.meta_timeout_seconds);
        let email = match &args.smtp_url {
            Some(url) => Some(Email::new(url, &args.alert_from, timeout)?),
            None => None,
        };
        let operator_hook = match &args.operator_webhook_url {
            Some(url) => Some(OperatorHook::new(url, timeout)?),
            None => None,
        };
        let completions = Batcher::start(
            pool.clone(),
            "SELECT alphadome.complete_job($1, $2)",
            args.report_lanes,
            args.batch_max,
            "complete_job",
            metrics.clone(),
        );
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
            meta,
            llm,
            email,
            operator_hook,
            lanes,
            completions,
            tenants_changed,
            in_flight: Mutex::new(HashSet::new()),
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
                match self.claim(lane.kinds, free).await {
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
        let left: Vec<i64> = self
            .in_flight
            .lock()
            .expect("in_flight lock")
            .drain()
            .collect();
        for id in left {
            let error =
                json!({"class": "transient", "message": "the relay shut down during this attempt"});
            match self.report(id, &Err((error, Some(0)))).await {
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

    async fn claim(&self, kinds: &[&str], max: usize) -> anyhow::Result<Vec<Claimed>> {
        let client = self.pool.get().await?;
        let claim = client
            .prepare_cached("SELECT alphadome.claim_jobs($1, $2, $3, $4)")
            .await?;
        let rows = client
            .query(
                &claim,
                &[
                    &self.args.worker,
                    &(max as i32),
                    &self.args.lease_seconds,
                    &kinds,
                ],
            )
            .await?;
        let jobs: Vec<Claimed> = rows.iter().map(|r| Claimed::read(r.get(0))).collect();
        self.metrics.jobs("claimed", jobs.len() as u64);
        let mut in_flight = self.in_flight.lock().expect("in_flight lock");
        in_flight.extend(jobs.iter().filter_map(Claimed::id));
        Ok(jobs)
    }

    async fn execute(&self, claimed: Claimed) {
        let (id, report, label) = match claimed {
            Claimed::Job(job) => {
                let report = self.attempt(&job).await;
                let label = match &report {
                    Ok(_) => "completed",
                    Err((_, Some(_))) => "retried",
                    Err((_, None)) => "failed",
                };
                (job.id, report, label)
            }
            Claimed::Malformed {
                id: Some(id),
                reason,
            } => {
                tracing::error!(job = id, reason, "malformed job: failing it for good");
                let error = json!({"class": "permanent", "message": reason});
                (id, Err((error, None)), "failed")
            }
            Claimed::Malformed { id: None, reason } => {
                tracing::error!(reason, "a claimed job has no id; its lease will expire");
                return;
            }
        };
        // The database may be briefly away: keep trying within the lease, so the result is not lost.
        for retry in 1..=8 {
            match self.report(id, &report).await {
                Ok(()) => {
                    self.metrics.jobs(label, 1);
                    self.in_flight.lock().expect("in_flight lock").remove(&id);
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
        self.in_flight.lock().expect("in_flight lock").remove(&id);
    }

    /// One attempt of a job: the call it needs, and what to report.
    async fn attempt(&self, job: &Job) -> Report {
        let outcome = match &job.work {
            Work::ReplySend { whatsapp, payload } => self.send(job.id, whatsapp, payload).await,
            Work::AlertSend { alert, whatsapp } => {
                self.alert(job.id, &job.tenant, alert, whatsapp.as_ref())
                    .await
            }
            Work::Generate {
                llm,
                whatsapp,
                payload,
            } => {
                self.generate(llm, whatsapp.as_ref(), payload.media.as_ref())
                    .await
            }
            Work::Transcribe {
                llm,
                whatsapp,
                payload,
            } => self.transcribe(llm, whatsapp, &payload.media).await,
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
                Err((failure.to_json(), failure.retry_in(attempt, base)))
            }
        }
    }

    /// complete_job (Ok: committed together with other completions) or fail_job (Err with the
    /// error and the retry delay).
    async fn report(&self, id: i64, result: &Report) -> anyhow::Result<()> {
        match result {
            Ok(result) => match self
                .completions
                .call(vec![Box::new(id), Box::new(result.clone())])
                .await
            {
                Ok(_) => Ok(()),
                Err(Failed::Refused(e)) => {
                    Err(anyhow::anyhow!(alphadome_service::database::describe(&e)))
                }
                Err(Failed::Unavailable(why)) => Err(anyhow::anyhow!(why)),
            },
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

    async fn send(&self, job: i64, whatsapp: &WhatsApp, payload: &Send) -> Result<Value, Failure> {
        if self.args.dry_run {
            return Ok(json!({"status": "simulated"}));
        }
        let callback = format!("job:{job}");
        let out = Outgoing {
            callback: Some(&callback),
            phone_number_id: &whatsapp.phone_number_id,
            token: whatsapp.access_token.expose(),
            to: payload.to.as_deref(),
            recipient: payload.recipient.as_deref(),
            text: &payload.text,
            context: payload.context_wamid.as_deref(),
        };
        if let Some(inbound) = out.context {
            // Blue ticks first; a failure here must not stop the answer.
            let read = self
                .timed_meta(self.meta.mark_read(out.phone_number_id, out.token, inbound))
                .await;
            if let Err(f) = read {
                tracing::warn!(class = f.label(), code = f.code, "read receipt failed");
                if f.class == Class::Auth {
                    return Err(f);
                }
            }
        }
        let wamid = self.timed_meta(self.meta.send_text(&out)).await?;
        Ok(json!({"wamid": wamid, "status": "sent"}))
    }

    /// An alert, by the first channel that takes it: WhatsApp text or template in the order
    /// given; failing those (or without them), email to the owner and to the operator, both.
    /// A refused token stops at once (fail_job pauses the tenant; the next attempt goes by
    /// email). Nothing is reported sent that was not.
    async fn alert(
        &self,
        job: i64,
        tenant: &str,
        alert: &AlertCall,
        whatsapp: Option<&WhatsApp>,
    ) -> Result<Value, Failure> {
        let callback = format!("job:{job}");
        let wanted = |channel: &str| alert.channels.iter().any(|c| c == channel);
        if self.args.dry_run {
            let first = alert
                .channels
                .first()
                .map(String::as_str)
                .unwrap_or("operator");
            return Ok(json!({"channel": first, "status": "simulated"}));
        }
        let mut failures: Vec<String> = Vec::new();
        for channel in alert.channels.iter().filter(|c| c.starts_with("whatsapp_")) {
            let (Some(whatsapp), Some(to)) = (whatsapp, alert.to.as_deref()) else {
                continue;
            };
            let (id, token) = (
                whatsapp.phone_number_id.as_str(),
                whatsapp.access_token.expose(),
            );
            let sent = match (channel.as_str(), &alert.template) {
                ("whatsapp_text", _) => {
                    let out = Outgoing {
                        phone_number_id: id,
                        token,
                        to: Some(to),
                        recipient: None,
                        text: &alert.text,
                        context: None,
                        callback: Some(&callback),
                    };
                    self.timed_meta(self.meta.send_text(&out)).await
                }
                ("whatsapp_template", Some(template)) => {
                    self.timed_meta(self.meta.send_template(
                        id,
                        token,
                        to,
                        template,
                        &alert.text,
                        &callback,
                    ))
                    .await
                }
                _ => continue,
            };
            match sent {
                Ok(wamid) => {
                    return Ok(json!({"channel": channel, "wamid": wamid, "status": "sent"}))
                }
                Err(f) if f.class == Class::Auth => return Err(f),
                Err(f) => failures.push(format!("{channel}: {}", f.message)),
            }
        }
        let subject = format!(
            "[AlphaDome] {}: {}",
            alert.tenant_name,
            alert.kind.replace('_', " ")
        );
        let mut delivered: Vec<&str> = Vec::new();
        if let (true, Some(email), Some(to)) =
            (wanted("email"), &self.email, alert.email.as_deref())
        {
            match email.send(to, &subject, &alert.text).await {
                Ok(()) => delivered.push("email"),
                Err(f) => failures.push(format!("email: {}", f.message)),
            }
        }
        if wanted("operator") {
            let mut reached = false;
            if let Some(hook) = &self.operator_hook {
                match hook.post(&alert.text, tenant, &alert.kind).await {
                    Ok(()) => reached = true,
                    Err(f) => failures.push(format!("operator webhook: {}", f.message)),
                }
            }
            if let (Some(email), Some(to)) = (&self.email, self.args.operator_email.as_deref()) {
                match email
                    .send(to, &format!("{subject} ({tenant})"), &alert.text)
                    .await
                {
                    Ok(()) => reached = true,
                    Err(f) => failures.push(format!("operator email: {}", f.message)),
                }
            }
            if reached {
                delivered.push("operator");
            }
        }
        if !delivered.is_empty() {
            return Ok(json!({"channel": delivered.join("+"), "status": "sent"}));
        }
        if failures.is_empty() {
            return Err(Failure::new(
                Class::Permanent,
                "no channel can carry this alert: set the tenant's alert template, ALPHADOME_SMTP_URL or ALPHADOME_OPERATOR_WEBHOOK_URL",
            ));
        }
        Err(Failure::new(
            Class::Transient,
            format!("every channel failed: {}", failures.join("; ")),
        ))
    }

    /// A Graph API call, timed into the metrics by its result.
    async fn timed_meta<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let started = std::time::Instant::now();
        let result = call.await;
        let label = result.as_ref().map_or_else(Failure::label, |_| "ok");
        self.metrics.meta_call(label, started.elapsed());
        result
    }

    /// The LLM's answer; with the customer's photo, fetched for this call only, when there is
    /// one (its size and checksum go back with the result, never its bytes).
    async fn generate(
        &self,
        llm: &LlmCall,
        whatsapp: Option<&WhatsApp>,
        media: Option<&Media>,
    ) -> Result<Value, Failure> {
        if self.args.dry_run {
            return Ok(json!({"content": "(dry run: the AI would answer here)"}));
        }
        let mut request = std::borrow::Cow::Borrowed(&llm.request);
        let mut facts = Value::Null;
        if let Some(media) = media {
            let whatsapp = whatsapp.ok_or_else(|| {
                Failure::new(
                    Class::Permanent,
                    "the job names a photo but no token to fetch it",
                )
            })?;
            let photo = self
                .timed_meta(self.meta.fetch_media(whatsapp, media, Purpose::Image))
                .await?;
            request = std::borrow::Cow::Owned(llm::with_image(&llm.request, &photo));
            facts = photo.facts();
        }
        let base = llm.base_url.as_deref().unwrap_or(&self.args.llm_base_url);
        let started = std::time::Instant::now();
        let result = self
            .llm
            .complete(base, llm.api_key.as_ref().map(|k| k.expose()), &request)
            .await;
        let label = result.as_ref().map_or_else(Failure::label, |_| "ok");
        self.metrics.llm_call(label, started.elapsed());
        let (content, usage) = result?;
        Ok(json!({"content": content, "usage": usage, "media": facts}))
    }

    /// A voice note's words: fetched from Meta, transcribed, the bytes dropped.
    async fn transcribe(
        &self,
        llm: &TranscriptionCall,
        whatsapp: &WhatsApp,
        media: &Media,
    ) -> Result<Value, Failure> {
        if self.args.dry_run {
            return Ok(
                json!({"transcript": "(dry run: the voice note would be transcribed here)"}),
            );
        }
        let voice = self
            .timed_meta(
                self.meta
                    .fetch_media(whatsapp, media, Purpose::Transcription),
            )
            .await?;
        let base = llm.base_url.as_deref().unwrap_or(&self.args.llm_base_url);
        let started = std::time::Instant::now();
        let result = self
            .llm
            .transcribe(
                base,
                llm.api_key.as_ref().map(|k| k.expose()),
                &llm.model,
                &voice,
            )
            .await;
        let label = result.as_ref().map_or_else(Failure::label, |_| "ok");
        self.metrics.llm_call(label, started.elapsed());
        Ok(json!({"transcript": result?, "media": voice.facts()}))
    }

    /// LISTEN on a session of its own; after every (re)connect, LISTEN again and poll once.
    async fn listen(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut failures = 0;
        while !*shutdown.borrow() {
            match self.args.database.connect(APPLICATION_NAME).await {
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
                                        error = alphadome_service::database::describe(&e),
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
                            tracing::warn!(
                                error = alphadome_service::database::describe(&e),
                                "LISTEN failed"
                            );
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
