//! An OpenAI-compatible chat completions endpoint.
use super::{retry_after, Class, Failure};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

pub struct Llm {
    http: reqwest::Client,
}

impl Llm {
    pub fn new(timeout: Duration) -> anyhow::Result<Llm> {
        Ok(Llm {
            http: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }

    /// POSTs the assembled request body; returns the answer's text ("" when it has none).
    pub async fn complete(
        &self,
        base_url: &str,
        api_key: Option<&str>,
        request: &Value,
    ) -> Result<String, Failure> {
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let mut call = self.http.post(url).json(request);
        if let Some(key) = api_key.filter(|k| !k.is_empty()) {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(Failure::from_transport)?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let text = response.text().await.map_err(Failure::from_transport)?;
        if !status.is_success() {
            let mut failure = classify(status, &text);
            failure.retry_after = wait;
            return Err(failure);
        }
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            Failure::new(
                Class::Transient,
                "the LLM answered with a body that is not JSON",
            )
        })?;
        Ok(answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string())
    }
}

/// 429 and 5xx are worth retrying, except an exhausted quota; 401, 403 and 400 are not.
pub fn classify(status: StatusCode, body: &str) -> Failure {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed["error"]["code"].as_str().unwrap_or("");
    let message: String = parsed["error"]["message"]
        .as_str()
        .unwrap_or("the LLM answered with an error")
        .chars()
        .take(300)
        .collect();
    let class = if status == StatusCode::TOO_MANY_REQUESTS {
        if code == "insufficient_quota" {
            Class::Permanent
        } else {
            Class::Throttle
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Class::Transient
    } else {
        Class::Permanent
    };
    let mut failure = Failure::new(class, format!("LLM {}: {message}", status.as_u16()));
    failure.http_status = Some(status.as_u16());
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_errors_sort_into_classes() {
        let rate = r#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, rate).class,
            Class::Throttle
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, quota).class,
            Class::Permanent
        );
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, "").class,
            Class::Transient
        );
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, "").class,
            Class::Transient
        );
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, "").class,
            Class::Permanent
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, "").class,
            Class::Permanent
        );
    }
}
