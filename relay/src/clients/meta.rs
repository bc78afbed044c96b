//! Meta's Graph API: send a text (in reply to a message) or a template, mark a message read,
//! list a WhatsApp Business account's templates; fetching a customer's media is in media.rs.
use super::{retry_after, Class, Failure};
use crate::contract::Choice;
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
    pub message: Message<'a>,
    /// The inbound message this answers: shown as quoted, and marked read first.
    pub context: Option<&'a str>,
    /// The job sending it ("job:<id>", Meta's biz_opaque_callback_data): Meta echoes it in the
    /// status webhooks, which complete the job even if this relay dies before reporting it.
    pub callback: Option<&'a str>,
}

/// What a send carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Free-form text (only within 24 hours of the customer's last message).
    Text(&'a str),
    /// An approved template, its body's parameters in order.
    Template {
        name: &'a str,
        language: &'a str,
        parameters: &'a [String],
    },
    /// Reply buttons under a text (issue 24): Meta's interactive "button".
    Buttons {
        text: &'a str,
        buttons: &'a [Choice],
    },
    /// A list to choose from under a text: Meta's interactive "list", one section.
    List {
        text: &'a str,
        button: &'a str,
        rows: &'a [Choice],
    },
}

/// Most pages of templates read for one account (Meta's pages hold 25 by default).
const TEMPLATE_PAGES: usize = 20;

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

    /// A Graph API call: its JSON answer, or the failure sorted by Meta's code.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request.send().await.map_err(Failure::from_transport)?;
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

    async fn post(
        &self,
        phone_number_id: &str,
        token: &str,
        body: &Value,
    ) -> Result<Value, Failure> {
        let url = format!("{}/{}/messages", self.base, phone_number_id);
        self.call(self.http.post(url).bearer_auth(token).json(body))
            .await
    }

    /// Sends the message; returns the new message's wamid.
    pub async fn send(&self, out: &Outgoing<'_>) -> Result<String, Failure> {
        let body = message_body(out)?;
        let answer = self.post(out.phone_number_id, out.token, &body).await?;
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

    /// Submits a new template for review (POST /{waba-id}/message_templates); Meta's answer:
    /// its id, status (PENDING, or APPROVED at once) and category.
    pub async fn create_template(
        &self,
        business_account_id: &str,
        token: &str,
        template: &Value,
    ) -> Result<Value, Failure> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Failure::new(Class::Permanent, "META_GRAPH_URL cannot take a path"))?
            .pop_if_empty()
            .extend([business_account_id, "message_templates"]);
        self.call(self.http.post(url).bearer_auth(token).json(template))
            .await
    }

    /// A WhatsApp Business account's message templates, every page Meta gives (following
    /// `paging.next` only on the Graph API's own origin, at most TEMPLATE_PAGES pages).
    pub async fn list_templates(
        &self,
        business_account_id: &str,
        token: &str,
    ) -> Result<Vec<Value>, Failure> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Failure::new(Class::Permanent, "META_GRAPH_URL cannot take a path"))?
            .pop_if_empty()
            .extend([business_account_id, "message_templates"]);
        let mut templates = Vec::new();
        for _ in 0..TEMPLATE_PAGES {
            let mut page = self.call(self.http.get(url).bearer_auth(token)).await?;
            match page.get_mut("data").map(Value::take) {
                Some(Value::Array(data)) => templates.extend(data),
                _ => {
                    return Err(Failure::new(
                        Class::Transient,
                        "Meta's list of templates has no data",
                    ))
                }
            }
            match next_page(&self.base_url, &page) {
                Some(next) => url = next,
                None => return Ok(templates),
            }
        }
        tracing::warn!(
            pages = TEMPLATE_PAGES,
            "more templates than the pages read; the rest are left out"
        );
        Ok(templates)
    }
}

/// The body of a send: to the customer's phone (or business-scoped id), a text or a template,
/// quoting the message it answers, naming its job.
pub fn message_body(out: &Outgoing<'_>) -> Result<Value, Failure> {
    let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual"});
    match (out.to, out.recipient) {
        (Some(to), _) => body["to"] = json!(to),
        (None, Some(recipient)) => body["recipient"] = json!(recipient),
        (None, None) => return Err(Failure::new(Class::Permanent, "the job names no recipient")),
    }
    match out.message {
        Message::Text(text) => {
            body["type"] = json!("text");
            body["text"] = json!({"body": text, "preview_url": false});
        }
        Message::Template {
            name,
            language,
            parameters,
        } => {
            let mut template = json!({
                "name": name,
                "language": {"policy": "deterministic", "code": language},
            });
            if !parameters.is_empty() {
                let parameters: Vec<Value> = parameters
                    .iter()
                    .map(|p| json!({"type": "text", "text": template_parameter(p)}))
                    .collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
        Message::Buttons { text, buttons } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({"type": "reply", "reply": {"id": b.id, "title": b.title}}))
                .collect();
            body["type"] = json!("interactive");
            body["interactive"] = json!({"type": "button", "body": {"text": text},
                                         "action": {"buttons": buttons}});
        }
        Message::List { text, button, rows } => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let mut row = json!({"id": r.id, "title": r.title});
                    if let Some(description) = &r.description {
                        row["description"] = json!(description);
                    }
                    row
                })
                .collect();
            body["type"] = json!("interactive");
            body["interactive"] = json!({"type": "list", "body": {"text": text},
                                         "action": {"button": button, "sections": [{"rows": rows}]}});
        }
    }
    if let Some(context) = out.context {
        body["context"] = json!({"message_id": context});
    }
    if let Some(callback) = out.callback {
        body["biz_opaque_callback_data"] = json!(callback);
    }
    Ok(body)
}

/// A template's text parameter as Meta takes it: no new lines or tabs, no more than four
/// spaces in a row (error 132018 otherwise).
fn template_parameter(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut spaces = 0;
    for c in text.trim().chars() {
        let c = if matches!(c, '\n' | '\r' | '\t') {
            ' '
        } else {
            c
        };
        spaces = if c == ' ' { spaces + 1 } else { 0 };
        if spaces <= 1 {
            out.push(c);
        }
    }
    out
}

/// The next page of a Graph API list, when it is on the Graph API's own origin (the token goes
/// with it, and to nobody else).
fn next_page(base: &reqwest::Url, page: &Value) -> Option<reqwest::Url> {
    let next = reqwest::Url::parse(page["paging"]["next"].as_str()?).ok()?;
    if next.origin() == base.origin() {
        Some(next)
    } else {
        tracing::warn!("a page of templates names a next page elsewhere; not followed");
        None
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

    fn outgoing(message: Message<'_>) -> Outgoing<'_> {
        Outgoing {
            phone_number_id: "1098",
            token: "EAAtest-x",
            to: Some("254700000001"),
            recipient: None,
            message,
            context: None,
            callback: Some("job:7"),
        }
    }

    #[test]
    fn a_text_goes_as_text_quoting_what_it_answers() {
        let mut out = outgoing(Message::Text("We open at 8."));
        out.context = Some("wamid.in");
        assert_eq!(
            message_body(&out).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "254700000001", "type": "text",
                   "text": {"body": "We open at 8.", "preview_url": false},
                   "context": {"message_id": "wamid.in"}, "biz_opaque_callback_data": "job:7"})
        );
    }

    #[test]
    fn a_template_goes_in_metas_template_shape_with_its_parameters_in_order() {
        let parameters = ["Wanjiru".to_string(), "Tuesday".to_string()];
        let out = outgoing(Message::Template {
            name: "order_ready",
            language: "en_US",
            parameters: &parameters,
        });
        assert_eq!(
            message_body(&out).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "254700000001", "type": "template",
                   "template": {"name": "order_ready",
                                "language": {"policy": "deterministic", "code": "en_US"},
                                "components": [{"type": "body", "parameters": [
                                    {"type": "text", "text": "Wanjiru"},
                                    {"type": "text", "text": "Tuesday"}]}]},
                   "biz_opaque_callback_data": "job:7"})
        );
    }

    #[test]
    fn buttons_and_lists_go_in_metas_interactive_shape() {
        let choice = |id: &str, title: &str, description: Option<&str>| Choice {
            id: id.into(),
            title: title.into(),
            description: description.map(String::from),
        };
        let buttons = [
            choice("pay_mpesa", "Pay with M-Pesa", None),
            choice("talk", "Talk to a person", None),
        ];
        let out = outgoing(Message::Buttons {
            text: "How would you like to pay?",
            buttons: &buttons,
        });
        assert_eq!(
            message_body(&out).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "254700000001", "type": "interactive",
                   "interactive": {"type": "button", "body": {"text": "How would you like to pay?"},
                                   "action": {"buttons": [
                                       {"type": "reply", "reply": {"id": "pay_mpesa", "title": "Pay with M-Pesa"}},
                                       {"type": "reply", "reply": {"id": "talk", "title": "Talk to a person"}}]}},
                   "biz_opaque_callback_data": "job:7"})
        );
        let rows = [
            choice("product:1", "Yamaha PSR-E373", Some("KES 32,000")),
            choice("product:2", "Casio CT-S300", None),
        ];
        let out = outgoing(Message::List {
            text: "Which one?",
            button: "Choose",
            rows: &rows,
        });
        assert_eq!(
            message_body(&out).unwrap()["interactive"],
            json!({"type": "list", "body": {"text": "Which one?"},
                   "action": {"button": "Choose", "sections": [{"rows": [
                       {"id": "product:1", "title": "Yamaha PSR-E373", "description": "KES 32,000"},
                       {"id": "product:2", "title": "Casio CT-S300"}]}]}})
        );
    }

    #[test]
    fn a_template_without_parameters_has_no_components() {
        let mut out = outgoing(Message::Template {
            name: "hello",
            language: "sw",
            parameters: &[],
        });
        out.to = None;
        out.recipient = Some("KE.bsuid");
        let body = message_body(&out).unwrap();
        assert!(body["template"].get("components").is_none(), "{body}");
        assert_eq!(
            (&body["recipient"], body.get("to")),
            (&json!("KE.bsuid"), None)
        );
        out.recipient = None;
        assert_eq!(
            message_body(&out).unwrap_err().class,
            Class::Permanent,
            "no recipient"
        );
    }

    #[test]
    fn a_template_parameter_has_no_new_lines_tabs_or_runs_of_spaces() {
        assert_eq!(
            template_parameter(" Wanjiru asks\nfor\ta     person \r\n"),
            "Wanjiru asks for a person"
        );
        assert_eq!(template_parameter("KES 15,000"), "KES 15,000");
    }

    #[test]
    fn only_a_next_page_on_the_graph_apis_origin_is_followed() {
        let base = reqwest::Url::parse("https://graph.facebook.com/v23.0").unwrap();
        let page = |next: &str| json!({"data": [], "paging": {"next": next}});
        let same = "https://graph.facebook.com/v23.0/102/message_templates?after=MjQZD";
        assert_eq!(next_page(&base, &page(same)).unwrap().as_str(), same);
        for elsewhere in [
            "https://graph.example.com/v23.0/102/message_templates?after=x",
            "http://graph.facebook.com/v23.0/102/message_templates",
            "https://graph.facebook.com:8443/v23.0/102/message_templates",
            "not a url",
        ] {
            assert!(next_page(&base, &page(elsewhere)).is_none(), "{elsewhere}");
        }
        assert!(next_page(&base, &json!({"data": [], "paging": {"cursors": {}}})).is_none());
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
