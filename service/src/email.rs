//! Email through the SMTP server named by ALPHADOME_SMTP_URL (lettre): the relay's alerts and
//! the console's password reset links go out the same way, with the same TLS rule.
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why an email did not go: `permanent` when trying again cannot help (a refused address).
#[derive(Debug)]
pub struct NotSent {
    pub permanent: bool,
    pub message: String,
}

/// The connection URL as lettre reads it, with STARTTLS required for a plain smtp:// URL unless
/// it names a loopback address (a local relay or a test's sink). lettre's own default for
/// smtp:// is no encryption at all.
pub fn tls_by_default(url: &str) -> anyhow::Result<String> {
    let parsed =
        url::Url::parse(url).map_err(|_| anyhow::anyhow!("ALPHADOME_SMTP_URL is not a URL"))?;
    let loopback = matches!(
        parsed.host_str(),
        Some("localhost" | "127.0.0.1" | "::1" | "[::1]")
    );
    let has_tls = parsed.query_pairs().any(|(k, _)| k == "tls");
    Ok(if parsed.scheme() == "smtp" && !has_tls && !loopback {
        let joiner = if parsed.query().is_some() { '&' } else { '?' };
        format!("{url}{joiner}tls=required")
    } else {
        url.to_string()
    })
}

impl Mailer {
    /// `from_setting` names the setting `from` came from, for the error when it is no address.
    pub fn new(
        url: &str,
        from: &str,
        from_setting: &str,
        timeout: Duration,
    ) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&tls_by_default(url)?)
            .map_err(|e| {
                anyhow::anyhow!(
                    "ALPHADOME_SMTP_URL cannot be used: {}",
                    e.to_string().replace(url, "<url>")
                )
            })?
            .timeout(Some(timeout))
            .build();
        let from = from
            .parse()
            .map_err(|_| anyhow::anyhow!("{from_setting} is not an address: {from}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text email.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), NotSent> {
        let to: Mailbox = to.parse().map_err(|_| NotSent {
            permanent: true,
            message: "the email address is not one".into(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| NotSent {
                permanent: true,
                message: format!("the email cannot be built: {e}"),
            })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| NotSent {
                permanent: e.is_permanent(),
                // lettre's error names the server's answer, never the credentials.
                message: format!("SMTP: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::tls_by_default;

    #[test]
    fn plain_smtp_requires_starttls_except_on_loopback() {
        assert_eq!(
            tls_by_default("smtp://u:p@mail.example:587").unwrap(),
            "smtp://u:p@mail.example:587?tls=required"
        );
        assert_eq!(
            tls_by_default("smtp://127.0.0.1:2525").unwrap(),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            tls_by_default("smtps://mail.example").unwrap(),
            "smtps://mail.example"
        );
        assert_eq!(
            tls_by_default("smtp://mail.example?tls=opportunistic").unwrap(),
            "smtp://mail.example?tls=opportunistic"
        );
        assert!(tls_by_default("not a url").is_err());
    }
}
