//! Alerts by email, through the SMTP server named by ALPHADOME_SMTP_URL (the mailer the console
//! shares, alphadome_service::email), its failures sorted for the queue.
use super::{Class, Failure};
use alphadome_service::email::Mailer;
use std::time::Duration;

pub struct Email(Mailer);

impl Email {
    pub fn new(url: &str, from: &str, timeout: Duration) -> anyhow::Result<Email> {
        Mailer::new(url, from, "ALPHADOME_ALERT_FROM", timeout).map(Email)
    }

    /// Sends a plain-text email; a refused address is permanent, anything else worth a retry.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), Failure> {
        self.0.send(to, subject, body).await.map_err(|e| {
            let class = if e.permanent {
                Class::Permanent
            } else {
                Class::Transient
            };
            Failure::new(class, e.message)
        })
    }
}
