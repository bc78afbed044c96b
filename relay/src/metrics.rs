//! Counters for GET /metrics, in Prometheus' text format.
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub webhooks_accepted: AtomicU64,
    pub webhooks_unauthorized: AtomicU64,
    pub webhooks_malformed: AtomicU64,
    pub webhooks_too_large: AtomicU64,
    pub webhooks_unavailable: AtomicU64,
    pub messages_accepted: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub jobs_claimed: AtomicU64,
    pub jobs_completed: AtomicU64,
    pub jobs_retried: AtomicU64,
    pub jobs_failed: AtomicU64,
    pub worker_reconnects: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let rows: [(&str, &str, &AtomicU64); 12] = [
            (
                "alphadome_webhooks_total",
                "result=\"accepted\"",
                &self.webhooks_accepted,
            ),
            (
                "alphadome_webhooks_total",
                "result=\"unauthorized\"",
                &self.webhooks_unauthorized,
            ),
            (
                "alphadome_webhooks_total",
                "result=\"malformed\"",
                &self.webhooks_malformed,
            ),
            (
                "alphadome_webhooks_total",
                "result=\"too_large\"",
                &self.webhooks_too_large,
            ),
            (
                "alphadome_webhooks_total",
                "result=\"unavailable\"",
                &self.webhooks_unavailable,
            ),
            (
                "alphadome_messages_total",
                "result=\"accepted\"",
                &self.messages_accepted,
            ),
            (
                "alphadome_messages_total",
                "result=\"duplicate\"",
                &self.messages_duplicate,
            ),
            (
                "alphadome_jobs_total",
                "result=\"claimed\"",
                &self.jobs_claimed,
            ),
            (
                "alphadome_jobs_total",
                "result=\"completed\"",
                &self.jobs_completed,
            ),
            (
                "alphadome_jobs_total",
                "result=\"retried\"",
                &self.jobs_retried,
            ),
            (
                "alphadome_jobs_total",
                "result=\"failed\"",
                &self.jobs_failed,
            ),
            (
                "alphadome_worker_reconnects_total",
                "",
                &self.worker_reconnects,
            ),
        ];
        let mut out = String::new();
        let mut last = "";
        for (name, labels, value) in rows {
            if name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            out.push_str(&format!(
                "{name}{labels} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
