//! The worker's outbound clients (Meta's Graph API, the LLM, email, the operator's webhook),
//! with the settings the job kinds share; Meta's and the LLM's calls are timed into the metrics
//! by their result.
use crate::clients::email::Email;
use crate::clients::llm::Llm;
use crate::clients::meta::Meta;
use crate::clients::mpesa::Mpesa;
use crate::clients::operator::OperatorHook;
use crate::clients::Failure;
use crate::config::ServeArgs;
use crate::metrics::Metrics;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Outbound {
    pub meta: Meta,
    pub llm: Llm,
    /// Safaricom's Daraja, for M-Pesa payments.
    pub mpesa: Mpesa,
    /// Alerts by email (ALPHADOME_SMTP_URL), when configured.
    pub email: Option<Email>,
    /// Alerts to the operator's webhook, when configured.
    pub operator_hook: Option<OperatorHook>,
    pub operator_email: Option<String>,
    /// The LLM base when the tenant names none.
    pub llm_base_url: String,
    /// The console's address, for links in alerts (ALPHADOME_CONSOLE_PUBLIC_URL).
    pub console_url: Option<String>,
    /// Call nobody: results are recorded as simulated.
    pub dry_run: bool,
    metrics: Arc<Metrics>,
}

impl Outbound {
    pub fn new(args: &ServeArgs, metrics: Arc<Metrics>) -> anyhow::Result<Outbound> {
        let timeout = Duration::from_secs(args.meta_timeout_seconds);
        let meta = Meta::new(&args.meta_graph_url, timeout)?;
        let llm = Llm::new(Duration::from_secs(args.llm_timeout_seconds))?;
        let mpesa = Mpesa::new(
            &args.mpesa_url,
            &args.mpesa_sandbox_url,
            args.mpesa_callback_url.as_deref(),
            timeout,
        )?;
        let email = match &args.smtp_url {
            Some(url) => Some(Email::new(url, &args.alert_from, timeout)?),
            None => None,
        };
        let operator_hook = match &args.operator_webhook_url {
            Some(url) => Some(OperatorHook::new(url, timeout)?),
            None => None,
        };
        Ok(Outbound {
            meta,
            llm,
            mpesa,
            email,
            operator_hook,
            operator_email: args.operator_email.clone(),
            llm_base_url: args.llm_base_url.clone(),
            console_url: args.console_public_url.clone(),
            dry_run: args.dry_run,
            metrics,
        })
    }

    /// A Graph API call, timed into the metrics by its result.
    pub async fn timed_meta<T>(
        &self,
        call: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        self.timed(call, Metrics::meta_call).await
    }

    /// An LLM call (an answer or a transcription), timed into the metrics by its result.
    pub async fn timed_llm<T>(
        &self,
        call: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        self.timed(call, Metrics::llm_call).await
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, Failure>>,
        record: fn(&Metrics, &'static str, Duration),
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = call.await;
        record(&self.metrics, result_label(&result), started.elapsed());
        result
    }

    /// Where a job's LLM call goes: the tenant's base, else the relay's.
    pub fn llm_base<'a>(&'a self, tenant_base: Option<&'a str>) -> &'a str {
        tenant_base.unwrap_or(&self.llm_base_url)
    }
}

/// A send's biz_opaque_callback_data: Meta echoes it in the status webhooks, which complete
/// the job even if this relay dies before reporting it (queue.sql reads "job:<id>").
pub fn callback_data(job: i64) -> String {
    format!("job:{job}")
}

/// A call's metric label: "ok", or its failure's class.
fn result_label<T>(result: &Result<T, Failure>) -> &'static str {
    result.as_ref().map_or_else(Failure::label, |_| "ok")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Class;

    #[test]
    fn the_callback_names_the_job_as_queue_sql_reads_it() {
        assert_eq!(callback_data(42), "job:42");
    }

    #[test]
    fn a_call_is_counted_as_ok_or_by_its_failures_class() {
        assert_eq!(result_label(&Ok::<_, Failure>(())), "ok");
        for (class, label) in [
            (Class::Auth, "auth"),
            (Class::Throttle, "throttle"),
            (Class::Transient, "transient"),
            (Class::Permanent, "permanent"),
        ] {
            assert_eq!(result_label(&Err::<(), _>(Failure::new(class, "x"))), label);
        }
    }
}
