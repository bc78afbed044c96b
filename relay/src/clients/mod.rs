//! Outbound HTTP: Meta's Graph API and an OpenAI-compatible LLM, with their errors sorted
//! into what the queue should do about them.
pub mod email;
pub mod llm;
pub mod media;
pub mod meta;
pub mod mpesa;
pub mod operator;

use crate::backoff::Backoff;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The tenant's token is refused: pause its sends, alert (queue.sql fail_job).
    Auth,
    /// Too fast: retry after a backoff.
    Throttle,
    /// Worth another try: 5xx, timeouts, connection errors, Meta's transient codes.
    Transient,
    /// Retrying cannot help.
    Permanent,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub class: Class,
    pub code: Option<i64>,
    pub http_status: Option<u16>,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(class: Class, message: impl Into<String>) -> Failure {
        Failure {
            class,
            code: None,
            http_status: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// From a reqwest error: no answer at all (timeout, refused connection) is transient.
    pub fn from_transport(e: reqwest::Error) -> Failure {
        let what = if e.is_timeout() {
            "timed out"
        } else {
            "no answer"
        };
        // Without the URL: an LLM base URL may carry a key in its query string.
        Failure::new(Class::Transient, format!("{what}: {}", e.without_url()))
    }

    /// The `error` argument of fail_job.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "class": self.label(),
            "code": self.code,
            "http_status": self.http_status,
            "message": self.message,
        })
    }

    /// The `retry_in_seconds` argument of fail_job, which schedules the next attempt exactly
    /// then: NULL for a permanent failure, 0 for a refused token (fail_job pauses the tenant),
    /// else the relay's backoff for this attempt (`base` doubling up to five minutes, ±20%), or
    /// longer when the server asked for it (Retry-After, at most an hour).
    pub fn retry_in(&self, attempt: i64, base: Duration) -> Option<i32> {
        match self.class {
            Class::Permanent => None,
            Class::Auth => Some(0),
            Class::Throttle | Class::Transient => {
                let backoff = Backoff {
                    first: base,
                    max: Duration::from_secs(300),
                };
                let wait = backoff
                    .delay(attempt.clamp(1, 30) as u32)
                    .max(self.retry_after.unwrap_or_default())
                    .min(Duration::from_secs(3600));
                Some(wait.as_secs_f64().ceil() as i32)
            }
        }
    }

    /// The metric label of this failure.
    pub fn label(&self) -> &'static str {
        match self.class {
            Class::Auth => "auth",
            Class::Throttle => "throttle",
            Class::Transient => "transient",
            Class::Permanent => "permanent",
        }
    }
}

/// Retry-After in seconds (the HTTP-date form is rare here and taken as absent).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_the_attempt_and_honour_retry_after() {
        let f = Failure::new(Class::Transient, "x");
        let base = Duration::from_secs(2);
        for (attempt, nominal) in [(1, 2.0_f64), (2, 4.0), (5, 32.0), (10, 300.0)] {
            let wait = f64::from(f.retry_in(attempt, base).unwrap());
            assert!(
                (nominal * 0.8..=(nominal * 1.2).ceil()).contains(&wait),
                "attempt {attempt}: {wait}"
            );
        }
        let asked = Failure {
            retry_after: Some(Duration::from_secs(90)),
            ..Failure::new(Class::Throttle, "x")
        };
        assert_eq!(asked.retry_in(1, base), Some(90));
        assert_eq!(Failure::new(Class::Permanent, "x").retry_in(1, base), None);
        assert_eq!(Failure::new(Class::Auth, "x").retry_in(3, base), Some(0));
        assert_eq!(
            f.retry_in(3, Duration::ZERO),
            Some(0),
            "base 0: retry at once (tests)"
        );
    }
}
