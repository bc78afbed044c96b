//! GET /metrics (prometheus-client, OpenMetrics text): counters of webhooks, messages and jobs
//! by result, latency histograms of webhook handling, the ingest call, Meta calls and LLM
//! calls, and the sizes of the batches committed together; and per tenant the figures of
//! alphadome.metrics() (queue, dead letters, credential expiry), read at most every 15 s.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Statement {
    statement: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tenant {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantReason {
    tenant: String,
    reason: String,
}

type Counters = Family<Outcome, Counter>;
type Figure = Family<Tenant, Gauge<f64, AtomicU64>>;

/// How often the per-tenant figures are read from the database, at most.
pub const TENANT_FIGURES_EVERY: Duration = Duration::from_secs(15);

/// The gauges of alphadome.metrics(), by tenant slug.
#[derive(Default)]
struct TenantFigures {
    inbound_last_5m: Figure,
    queued: Figure,
    running: Figure,
    runnable: Figure,
    oldest_runnable_seconds: Figure,
    dead: Family<TenantReason, Gauge<f64, AtomicU64>>,
    credential_expires_in_days: Figure,
    paused: Figure,
    /// When they were last read; the lock also keeps two scrapes from reading at once.
    read_at: tokio::sync::Mutex<Option<Instant>>,
}
type Timings = Family<Outcome, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    webhooks: Counters,
    messages: Counters,
    jobs: Counters,
    worker_reconnects: Counter,
    webhook_seconds: Histogram,
    ingest_seconds: Histogram,
    meta_seconds: Timings,
    llm_seconds: Timings,
    batch_sizes: Family<Statement, Histogram, fn() -> Histogram>,
    tenants: TenantFigures,
}

/// 1 to 64 statements.
fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 7))
}

/// 1 ms to about 33 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("alphadome");
        let webhooks = Counters::default();
        let messages = Counters::default();
        let jobs = Counters::default();
        let worker_reconnects = Counter::default();
        let webhook_seconds = seconds();
        let ingest_seconds = seconds();
        let meta_seconds = Timings::new_with_constructor(seconds as fn() -> Histogram);
        let llm_seconds = Timings::new_with_constructor(seconds as fn() -> Histogram);
        let batch_sizes = Family::<Statement, Histogram, fn() -> Histogram>::new_with_constructor(
            sizes as fn() -> Histogram,
        );
        registry.register(
            "batch_size",
            "Statements committed together, by statement (ingest, report)",
            batch_sizes.clone(),
        );
        registry.register(
            "webhooks",
            "Webhook POSTs by how they were answered",
            webhooks.clone(),
        );
        registry.register("messages", "Inbound messages by result", messages.clone());
        registry.register("jobs", "Outbound jobs by result", jobs.clone());
        registry.register(
            "worker_reconnects",
            "Reconnects of the LISTEN session",
            worker_reconnects.clone(),
        );
        registry.register(
            "webhook_seconds",
            "Time to answer a webhook POST",
            webhook_seconds.clone(),
        );
        registry.register(
            "ingest_seconds",
            "Time of the ingest_webhook call",
            ingest_seconds.clone(),
        );
        registry.register(
            "meta_call_seconds",
            "Time of Graph API calls by result",
            meta_seconds.clone(),
        );
        registry.register(
            "llm_call_seconds",
            "Time of LLM calls by result",
            llm_seconds.clone(),
        );
        let tenants = TenantFigures::default();
        for (name, help, figure) in [
            ("tenant_inbound_last_5m", "Messages received in the last five minutes, by tenant", &tenants.inbound_last_5m),
            ("tenant_queued_jobs", "Jobs queued, by tenant", &tenants.queued),
            ("tenant_running_jobs", "Jobs running, by tenant", &tenants.running),
            ("tenant_runnable_jobs", "Jobs queued and due now, by tenant", &tenants.runnable),
            (
                "tenant_oldest_runnable_seconds",
                "Age of the oldest job due, by its run_at (0: none), by tenant",
                &tenants.oldest_runnable_seconds,
            ),
            (
                "tenant_credential_expires_in_days",
                "Days until the WhatsApp token expires (negative: expired), tenants with a known expiry",
                &tenants.credential_expires_in_days,
            ),
            ("tenant_paused", "1 while the tenant's sends are paused (its key fails)", &tenants.paused),
        ] {
            registry.register(name, help, figure.clone());
        }
        registry.register(
            "tenant_dead_jobs",
            "Dead jobs in the queue, by tenant and reason",
            tenants.dead.clone(),
        );
        Metrics {
            tenants,
            registry,
            webhooks,
            messages,
            jobs,
            worker_reconnects,
            webhook_seconds,
            ingest_seconds,
            meta_seconds,
            llm_seconds,
            batch_sizes,
        }
    }
}

impl Metrics {
    /// A webhook answered: accepted, unauthorized, malformed, too_large, aborted, unavailable.
    pub fn webhook(&self, result: &'static str, took: Duration) {
        self.webhooks.get_or_create(&Outcome { result }).inc();
        self.webhook_seconds.observe(took.as_secs_f64());
    }

    /// `n` inbound messages: accepted or duplicate.
    pub fn messages(&self, result: &'static str, n: u64) {
        self.messages.get_or_create(&Outcome { result }).inc_by(n);
    }

    /// Jobs: claimed, completed, retried, failed.
    pub fn jobs(&self, result: &'static str, n: u64) {
        self.jobs.get_or_create(&Outcome { result }).inc_by(n);
    }

    pub fn worker_reconnect(&self) {
        self.worker_reconnects.inc();
    }

    pub fn ingest(&self, took: Duration) {
        self.ingest_seconds.observe(took.as_secs_f64());
    }

    /// A Graph API call that succeeded ("ok") or failed (its class).
    pub fn meta_call(&self, result: &'static str, took: Duration) {
        self.meta_seconds
            .get_or_create(&Outcome { result })
            .observe(took.as_secs_f64());
    }

    pub fn llm_call(&self, result: &'static str, took: Duration) {
        self.llm_seconds
            .get_or_create(&Outcome { result })
            .observe(took.as_secs_f64());
    }

    /// A batch of `size` statements committed together (batch.rs).
    pub fn batch(&self, statement: &'static str, size: usize) {
        self.batch_sizes
            .get_or_create(&Statement { statement })
            .observe(size as f64);
    }

    /// Reads alphadome.metrics() into the tenant gauges unless they were read in the last
    /// TENANT_FIGURES_EVERY; a failed read is logged and leaves the last figures.
    pub async fn refresh_tenants(&self, pool: &deadpool_postgres::Pool) {
        let mut read_at = self.tenants.read_at.lock().await;
        if read_at.is_some_and(|at| at.elapsed() < TENANT_FIGURES_EVERY) {
            return;
        }
        let rows = match pool.get().await {
            Ok(client) => client
                .query(
                    "SELECT slug, inbound_last_5m, queued, running, runnable, oldest_runnable_seconds,
                            dead_by_reason, credential_expires_in_days, paused IS NOT NULL
                       FROM alphadome.metrics()",
                    &[],
                )
                .await
                .map_err(|e| alphadome_service::database::describe(&e)),
            Err(e) => Err(format!("{e:#}")),
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error, "metrics(): the tenant figures were not read");
                return;
            }
        };
        self.set_tenants(rows.iter().map(|r| TenantRow {
            slug: r.get(0),
            inbound_last_5m: r.get(1),
            queued: r.get(2),
            running: r.get(3),
            runnable: r.get(4),
            oldest_runnable_seconds: r.get(5),
            dead_by_reason: r.get(6),
            credential_expires_in_days: r.get(7),
            paused: r.get(8),
        }));
        *read_at = Some(Instant::now());
    }

    /// Replaces the tenant gauges: a tenant gone is gone from them.
    fn set_tenants(&self, rows: impl Iterator<Item = TenantRow>) {
        let t = &self.tenants;
        for family in [
            &t.inbound_last_5m,
            &t.queued,
            &t.running,
            &t.runnable,
            &t.oldest_runnable_seconds,
            &t.credential_expires_in_days,
            &t.paused,
        ] {
            family.clear();
        }
        t.dead.clear();
        for row in rows {
            let tenant = Tenant {
                tenant: row.slug.clone(),
            };
            let set = |family: &Figure, value: f64| {
                family.get_or_create(&tenant).set(value);
            };
            set(&t.inbound_last_5m, row.inbound_last_5m as f64);
            set(&t.queued, row.queued as f64);
            set(&t.running, row.running as f64);
            set(&t.runnable, row.runnable as f64);
            set(
                &t.oldest_runnable_seconds,
                row.oldest_runnable_seconds.unwrap_or(0.0),
            );
            set(&t.paused, if row.paused { 1.0 } else { 0.0 });
            if let Some(days) = row.credential_expires_in_days {
                set(&t.credential_expires_in_days, days);
            }
            for (reason, n) in row.dead_by_reason.as_object().into_iter().flatten() {
                t.dead
                    .get_or_create(&TenantReason {
                        tenant: row.slug.clone(),
                        reason: reason.clone(),
                    })
                    .set(n.as_f64().unwrap_or(0.0));
            }
        }
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// One tenant's figures, as alphadome.metrics() gives them.
struct TenantRow {
    slug: String,
    inbound_last_5m: i64,
    queued: i64,
    running: i64,
    runnable: i64,
    oldest_runnable_seconds: Option<f64>,
    dead_by_reason: serde_json::Value,
    credential_expires_in_days: Option<f64>,
    paused: bool,
}

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_with_their_labels() {
        let m = Metrics::default();
        m.webhook("accepted", Duration::from_millis(3));
        m.messages("duplicate", 2);
        m.meta_call("ok", Duration::from_millis(40));
        let text = m.render();
        for expected in [
            "alphadome_webhooks_total{result=\"accepted\"} 1",
            "alphadome_messages_total{result=\"duplicate\"} 2",
            "alphadome_webhook_seconds_count 1",
            "alphadome_meta_call_seconds_bucket{le=\"0.064\",result=\"ok\"} 1",
            "# EOF",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
    }

    fn row(slug: &str, queued: i64, dead: serde_json::Value) -> TenantRow {
        TenantRow {
            slug: slug.into(),
            inbound_last_5m: 3,
            queued,
            running: 0,
            runnable: queued,
            oldest_runnable_seconds: Some(12.5),
            dead_by_reason: dead,
            credential_expires_in_days: None,
            paused: false,
        }
    }

    #[test]
    fn tenant_figures_are_gauges_by_slug_and_a_tenant_gone_goes() {
        let m = Metrics::default();
        m.set_tenants(
            [
                row("duka", 4, serde_json::json!({"meta_4xx": 2})),
                row("gone", 1, serde_json::json!({})),
            ]
            .into_iter(),
        );
        let text = m.render();
        for expected in [
            "alphadome_tenant_queued_jobs{tenant=\"duka\"} 4.0",
            "alphadome_tenant_oldest_runnable_seconds{tenant=\"duka\"} 12.5",
            "alphadome_tenant_dead_jobs{tenant=\"duka\",reason=\"meta_4xx\"} 2.0",
            "alphadome_tenant_queued_jobs{tenant=\"gone\"} 1.0",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        assert!(
            !text.contains("credential_expires_in_days{"),
            "no expiry known: no gauge"
        );
        m.set_tenants([row("duka", 0, serde_json::json!({}))].into_iter());
        let text = m.render();
        assert!(
            text.contains("alphadome_tenant_queued_jobs{tenant=\"duka\"} 0.0"),
            "{text}"
        );
        assert!(!text.contains("gone"), "{text}");
        assert!(!text.contains("meta_4xx"), "{text}");
    }
}
