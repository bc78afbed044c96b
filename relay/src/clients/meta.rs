//! Meta's Graph API: send a text (in reply to a message) or a template, mark a message read;
//! fetching a customer's media is in media.rs.
use super::{retry_after, Class, Failure};
use crate::contract::Template;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub struct Meta {
    http: reqwest::Client,
    base: String,
    base_url: reqwest::Url,
}

pub struct Outgoing<'a> {
    pub phone_number_id: &'a str,
    pub token: &'a str,
    /// The customer's phone (wa_id); without it, the business-scoped user id.
    pub to: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub text: &'a str,
    /// The inbound message this answers: shown as quoted, and marked read first.
    pub context: Option<&'a str>,
    /// The job sending it ("job:<id>", Meta's biz_opaque_callback_data): Meta echoes it in the
    /// status webhooks, which complete the job even if this relay dies before reporting it.
    pub callback: Option<&'a str>,
}

impl Meta {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Meta> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let base = base.trim_end_matches('/').to_string();
        let base_url = reqwest::Url::parse(&base)
            .map_err(|e| anyhow::anyhow!("META_GRAPH_URL is not a URL: {e}"))?;
        Ok(Meta {
            http,
            base,
            base_url,
        })
    }

    /// The Graph API's base (with its version), for media lookups (media.rs).
    pub(super) fn base_url(&self) -> &reqwest::Url {
        &self.base_url
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn post(
        &self,
        phone_number_id: &str,
        token: &str,
        body: &Value,
    ) -> Result<Value, Failure> {
        let url = format!("{}/{}/messages", self.base, phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let text = response.text().await.map_err(Failure::from_transport)?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|_| {
                Failure::new(
                    Class::Transient,
                    "Meta answered with a body that is not JSON",
                )
            });
        }
        let mut failure = classify(status, &text);
        failure.retry_after = wait;
        Err(failure)
    }

    /// Sends the text; returns the new message's wamid.
    pub async fn send_text(&self, out: &Outgoing<'_>) -> Result<String, Failure> {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": "text",
            "text": {"body": out.text, "preview_url": false},
        });
        match (out.to, out.recipient) {
            (Some(to), _) => body["to"] = json!(to),
            (None, Some(recipient)) => body["recipient"] = json!(recipient),
            (None, None) => {
                return Err(Failure::new(Class::Permanent, "the job names no recipient"))
            }
        }
        if let Some(context) = out.context {
            body["context"] = json!({"message_id": context});
        }
        if let Some(callback) = out.callback {
            body["biz_opaque_callback_data"] = json!(callback);
        }
        let answer = self.post(out.phone_number_id, out.token, &body).await?;
        answer["messages"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Failure::new(Class::Transient, "Meta's answer names no message id"))
    }

    /// Sends an approved template whose body has one text parameter (an alert outside the
    /// 24-hour window); returns the new message's wamid.
    pub async fn send_template(
        &self,
        phone_number_id: &str,
        token: &str,
        to: &str,
        template: &Template,
        text: &str,
        callback: &str,
    ) -> Result<String, Failure> {
        // Meta bounds a body parameter; the alert's first 1024 characters carry its point.
        let text: String = text.chars().take(1024).collect();
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": template.name,
                "language": {"policy": "deterministic", "code": template.language},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": text}]}],
            },
            "biz_opaque_callback_data": callback,
        });
        let answer = self.post(phone_number_id, token, &body).await?;
        answer["messages"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Failure::new(Class::Transient, "Meta's answer names no message id"))
    }

    /// Marks the inbound message read (blue ticks), as a person would before answering.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        token: &str,
        message_id: &str,
    ) -> Result<(), Failure> {
        let body =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
        self.post(phone_number_id, token, &body).await.map(|_| ())
    }
}

/// Sorts a Graph API error by its code (facts file section 6).
pub fn classify(status: StatusCode, body: &str) -> Failure {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let code = error["code"].as_i64();
    let message = error["error_data"]["details"]
        .as_str()
        .or(error["message"].as_str())
        .unwrap_or("Meta answered with an error")
        .chars()
        .take(300)
        .collect::<String>();
    let class = match code {
        Some(0 | 190) => Class::Auth,
        Some(4 | 80007 | 130429 | 131056) => Class::Throttle,
        Some(1 | 2 | 131000 | 131016 | 133004 | 131057) => Class::Transient,
        Some(_) if error["is_transient"] == Value::Bool(true) => Class::Transient,
        Some(_) => Class::Permanent,
        None if status == StatusCode::UNAUTHORIZED => Class::Auth,
        None if status == StatusCode::TOO_MANY_REQUESTS => Class::Throttle,
        None if status.is_server_error() => Class::Transient,
        None => Class::Permanent,
    };
    let mut failure = Failure::new(class, message);
    failure.code = code;
    failure.http_status = Some(status.as_u16());
    if code == Some(131057) {
        // Maintenance "can take up to 1 minute".
        failure.retry_after = Some(Duration::from_secs(60));
    }
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64) -> String {
        json!({"error": {"message": format!("(#{code}) x"), "type": "OAuthException", "code": code,
                         "error_data": {"messaging_product": "whatsapp", "details": "details here"}, "fbtrace_id": "A"}})
        .to_string()
    }

    #[test]
    fn meta_codes_sort_into_classes() {
        let class = |status: u16, code: i64| {
            classify(StatusCode::from_u16(status).unwrap(), &error(code)).class
        };
        assert_eq!(class(401, 190), Class::Auth);
        assert_eq!(class(400, 0), Class::Auth);
        assert_eq!(class(400, 130429), Class::Throttle);
        assert_eq!(class(400, 131056), Class::Throttle);
        assert_eq!(class(500, 131000), Class::Transient);
        assert_eq!(class(400, 131047), Class::Permanent);
        assert_eq!(class(400, 131026), Class::Permanent);
        assert_eq!(class(400, 100), Class::Permanent);
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, "<html>").class,
            Class::Transient
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, "").class,
            Class::Permanent
        );
        let f = classify(StatusCode::BAD_REQUEST, &error(131047));
        assert_eq!((f.code, f.message.as_str()), (Some(131047), "details here"));
    }
}
