//! GET /metrics (prometheus-client, OpenMetrics text): counters of webhooks, messages and jobs
//! by result, latency histograms of webhook handling, the ingest call, Meta calls and LLM
//! calls, and the sizes of the batches committed together.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Statement {
    statement: &'static str,
}

type Counters = Family<Outcome, Counter>;
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
        Metrics {
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

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
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
}
