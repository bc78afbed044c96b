//! Outbound HTTP: Meta's Graph API and an OpenAI-compatible LLM, with their errors sorted
//! into what the queue should do about them.
pub mod llm;
pub mod meta;

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
            "class": match self.class {
                Class::Auth => "auth",
                Class::Throttle => "throttle",
                Class::Transient => "transient",
                Class::Permanent => "permanent",
            },
            "code": self.code,
            "http_status": self.http_status,
            "message": self.message,
        })
    }

    /// The `retry_in_seconds` argument of fail_job: NULL for a permanent failure, else an
    /// exponential backoff from the attempt number, `base` × 2^(attempt-1) up to five minutes
    /// (the database adds the jitter), or longer when the server asked for it.
    pub fn retry_in(&self, attempt: i64, base: u64) -> Option<i32> {
        match self.class {
            Class::Permanent => None,
            Class::Auth => Some(0),
            Class::Throttle | Class::Transient => {
                let exponent = attempt.clamp(1, 9) as u32 - 1;
                let backoff = (base << exponent).min(300);
                let asked = self.retry_after.map(|d| d.as_secs()).unwrap_or(0);
                Some(backoff.max(asked).min(3600) as i32)
            }
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
    fn backoff_doubles_up_to_five_minutes_and_honours_retry_after() {
        let f = Failure::new(Class::Transient, "x");
        let delays: Vec<i32> = (1..=10).map(|a| f.retry_in(a, 2).unwrap()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        let asked = Failure {
            retry_after: Some(Duration::from_secs(90)),
            ..Failure::new(Class::Throttle, "x")
        };
        assert_eq!(asked.retry_in(1, 2), Some(90));
        assert_eq!(Failure::new(Class::Permanent, "x").retry_in(1, 2), None);
        assert_eq!(f.retry_in(3, 0), Some(0), "base 0: retry at once (tests)");
    }
}
