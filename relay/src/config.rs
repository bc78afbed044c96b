//! Settings: flags with environment fallbacks (docs/design.md section 5). Secrets are hidden from
//! `--help` and never logged.
pub use alphadome_service::database::DatabaseArgs;
use alphadome_service::server::HttpArgs;
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

/// The relay's name in pg_stat_activity, unless the connection string gives another.
pub const APPLICATION_NAME: &str = "alphadome-relay";

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address the webhook server listens on.
    #[arg(long, env = "ALPHADOME_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the admin listener: /readyz and /metrics (and /healthz), kept off the public
    /// webhook port.
    #[arg(long, env = "ALPHADOME_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
    pub admin_listen: SocketAddr,
    /// Largest webhook body in bytes (413 above it); Meta documents payloads of up to 3 MB.
    #[arg(long, env = "ALPHADOME_WEBHOOK_BODY_LIMIT", default_value_t = crate::http::BODY_LIMIT)]
    pub webhook_body_limit: usize,
    /// Connection cap, header and body timeouts.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Meta Graph API base, with its version.
    #[arg(
        long,
        env = "META_GRAPH_URL",
        default_value = "https://graph.facebook.com/v23.0"
    )]
    pub meta_graph_url: String,
    /// App secret of the shared Meta app (POST /webhook). Without it, /webhook is refused.
    #[arg(long, env = "META_APP_SECRET", hide_env_values = true)]
    pub meta_app_secret: Option<String>,
    /// Verify token of the shared Meta app (GET /webhook).
    #[arg(long, env = "META_VERIFY_TOKEN", hide_env_values = true)]
    pub meta_verify_token: Option<String>,
    /// OpenAI-compatible API base; a tenant's ai_base_url overrides it.
    #[arg(
        long,
        env = "LLM_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub llm_base_url: String,
    /// Safaricom Daraja's base for tenants whose M-Pesa environment is production.
    #[arg(
        long,
        env = "ALPHADOME_MPESA_URL",
        default_value = "https://api.safaricom.co.ke"
    )]
    pub mpesa_url: String,
    /// Daraja's base for tenants whose M-Pesa environment is sandbox.
    #[arg(
        long,
        env = "ALPHADOME_MPESA_SANDBOX_URL",
        default_value = "https://sandbox.safaricom.co.ke"
    )]
    pub mpesa_sandbox_url: String,
    /// The relay's public address of its M-Pesa callback route (https://relay.example.com/mpesa):
    /// each push names <this>/<slug>/<token>. Without it, no M-Pesa push is made.
    #[arg(long, env = "ALPHADOME_MPESA_CALLBACK_URL")]
    pub mpesa_callback_url: Option<String>,
    /// SMTP server for alerts by email: smtp://user:pass@host:587 (STARTTLS, required except on
    /// a loopback address), smtps://... (TLS from the start). Without it, no email is sent.
    #[arg(long, env = "ALPHADOME_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From of alert emails.
    #[arg(
        long,
        env = "ALPHADOME_ALERT_FROM",
        default_value = "AlphaDome alerts <alerts@alphadome.invalid>"
    )]
    pub alert_from: String,
    /// The operator's incoming webhook (Slack-style): alerts are POSTed as {"text", "tenant", "kind"}.
    #[arg(long, env = "ALPHADOME_OPERATOR_WEBHOOK_URL", hide_env_values = true)]
    pub operator_webhook_url: Option<String>,
    /// The operator's email address for alerts.
    #[arg(long, env = "ALPHADOME_OPERATOR_EMAIL")]
    pub operator_email: Option<String>,
    /// The console's address (as the console has it): alerts about a customer link to the
    /// conversation there.
    #[arg(long, env = "ALPHADOME_CONSOLE_PUBLIC_URL")]
    pub console_public_url: Option<String>,
    /// Record outbound messages as simulated and send nothing to Meta or the LLM.
    #[arg(long, env = "ALPHADOME_DRY_RUN", default_value_t = false)]
    pub dry_run: bool,
    /// Take webhooks only and claim no jobs: other relays work the queue (the bench's relay
    /// row without its worker, beside a naive receiver). Without the worker's LISTEN, a new
    /// tenant's route is read within a minute (the routes' periodic refresh).
    #[arg(long, env = "ALPHADOME_INGEST_ONLY", default_value_t = false)]
    pub ingest_only: bool,
    /// Name of this worker in the queue (leases, logs).
    #[arg(long, env = "ALPHADOME_WORKER", default_value_t = default_worker())]
    pub worker: String,
    /// Sends and alerts handled at once (the fast lane).
    #[arg(long, env = "ALPHADOME_CONCURRENCY", default_value_t = 32)]
    pub concurrency: usize,
    /// LLM calls and transcriptions handled at once (the slow lane: they mostly wait).
    #[arg(long, env = "ALPHADOME_LLM_CONCURRENCY", default_value_t = 256)]
    pub llm_concurrency: usize,
    /// Connections that commit webhooks (those arriving together are committed together).
    #[arg(long, env = "ALPHADOME_INGEST_LANES", default_value_t = 4)]
    pub ingest_lanes: usize,
    /// Connections that commit job results (likewise).
    #[arg(long, env = "ALPHADOME_REPORT_LANES", default_value_t = 2)]
    pub report_lanes: usize,
    /// Most statements committed together in one transaction.
    #[arg(long, env = "ALPHADOME_BATCH_MAX", default_value_t = 32)]
    pub batch_max: usize,
    /// Seconds a claimed job is leased: longer than the slowest HTTP call (timeouts below).
    #[arg(long, env = "ALPHADOME_LEASE_SECONDS", default_value_t = 120)]
    pub lease_seconds: i32,
    /// Milliseconds between polls of the queue when no notification comes.
    #[arg(long, env = "ALPHADOME_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// First retry delay in seconds; it doubles with each attempt, up to five minutes.
    #[arg(long, env = "ALPHADOME_RETRY_BASE_SECONDS", default_value_t = 2)]
    pub retry_base_seconds: u64,
    /// Seconds allowed for one call to Meta.
    #[arg(long, env = "ALPHADOME_META_TIMEOUT", default_value_t = 20)]
    pub meta_timeout_seconds: u64,
    /// Seconds allowed for one LLM call.
    #[arg(long, env = "ALPHADOME_LLM_TIMEOUT", default_value_t = 60)]
    pub llm_timeout_seconds: u64,
    /// Seconds given to in-flight jobs on SIGTERM before they are released.
    #[arg(long, env = "ALPHADOME_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
    /// Seconds between checks of expiring credentials (alerts at most once a day per tenant).
    #[arg(
        long,
        env = "ALPHADOME_CREDENTIAL_CHECK_SECONDS",
        default_value_t = 3600
    )]
    pub credential_check_seconds: u64,
    /// Seconds between runs of the hand-off clocks (handoff_chores: reminders, timeouts).
    #[arg(long, env = "ALPHADOME_HANDOFF_CHORE_SECONDS", default_value_t = 60)]
    pub handoff_chore_seconds: u64,
    /// Seconds between retention runs (prune_history: raw payloads, finished jobs, past counters,
    /// messages past a tenant's retention; prune_credential_audit).
    #[arg(long, env = "ALPHADOME_PRUNE_SECONDS", default_value_t = 3600)]
    pub prune_seconds: u64,
    /// Days of raw webhook payloads and finished jobs to keep.
    #[arg(long, env = "ALPHADOME_KEEP_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(i32).range(1..=3650))]
    pub keep_days: i32,
    /// Days of credential audit rows (one per decryption) to keep; 30 at least.
    #[arg(long, env = "ALPHADOME_KEEP_AUDIT_DAYS", default_value_t = 365,
          value_parser = clap::value_parser!(i32).range(30..=36500))]
    pub keep_audit_days: i32,
}

fn default_worker() -> String {
    format!("relay-{}", std::process::id())
}

impl ServeArgs {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }
}
