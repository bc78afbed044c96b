//! The operator's incoming webhook (Slack and its like take this JSON): one POST per alert.
use super::{Class, Failure};
use serde_json::json;
use std::time::Duration;

pub struct OperatorHook {
    http: reqwest::Client,
    url: String,
}

impl OperatorHook {
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<OperatorHook> {
        Ok(OperatorHook {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            url: url.to_string(),
        })
    }

    pub async fn post(&self, text: &str, tenant: &str, kind: &str) -> Result<(), Failure> {
        let response = self
            .http
            .post(&self.url)
            .json(&json!({"text": text, "tenant": tenant, "kind": kind}))
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let class = if status.is_server_error() || status.as_u16() == 429 {
            Class::Transient
        } else {
            Class::Permanent
        };
        let mut failure = Failure::new(
            class,
            format!("the operator's webhook answered {}", status.as_u16()),
        );
        failure.http_status = Some(status.as_u16());
        Err(failure)
    }
}
