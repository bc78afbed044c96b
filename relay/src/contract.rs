//! The relay's contract with pg_alphadome, as types: what ingest_webhook returns and what
//! claim_jobs hands out. A job that does not read as its kind requires fails for good with the
//! reason (class "permanent"), never goes out with an empty token or text.
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// ingest_webhook's counts.
#[derive(Debug, Default, Deserialize)]
pub struct IngestCounts {
    pub accepted: u64,
    pub duplicates: u64,
    pub statuses: u64,
    pub ignored: u64,
    pub refused: u64,
    pub jobs: u64,
    pub event_id: Option<i64>,
}

/// A credential from claim_jobs: never empty, never shown by Debug.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        match String::deserialize(d)? {
            s if s.is_empty() => Err(serde::de::Error::custom("a credential is empty")),
            s => Ok(Secret(s)),
        }
    }
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match String::deserialize(d)? {
        s if s.trim().is_empty() => Err(serde::de::Error::custom("a required text is empty")),
        s => Ok(s),
    }
}

/// One claimed job.
#[derive(Debug, Deserialize)]
pub struct Job {
    pub id: i64,
    /// The tenant's slug, for logs.
    pub tenant: String,
    pub attempt: i64,
    #[serde(flatten)]
    pub work: Work,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind")]
pub enum Work {
    #[serde(rename = "reply.send")]
    ReplySend { whatsapp: WhatsApp, payload: Send },
    #[serde(rename = "alert.send")]
    AlertSend {
        alert: AlertCall,
        whatsapp: Option<WhatsApp>,
    },
    /// The LLM answers; with a photo to fetch (and the token to fetch it) when the customer
    /// sent one without a caption.
    #[serde(rename = "reply.generate")]
    Generate {
        llm: LlmCall,
        whatsapp: Option<WhatsApp>,
        #[serde(default)]
        payload: WithMedia,
    },
    /// A voice note to fetch from Meta and transcribe.
    #[serde(rename = "media.transcribe")]
    Transcribe {
        llm: TranscriptionCall,
        whatsapp: WhatsApp,
        payload: MediaPayload,
    },
    /// The tenant's message templates, to read from the Graph API (sync_templates).
    #[serde(rename = "templates.sync")]
    TemplatesSync { whatsapp: BusinessAccount },
    /// A template the owner wrote, to submit for Meta's review (create_template).
    #[serde(rename = "templates.submit")]
    TemplatesSubmit {
        whatsapp: BusinessAccount,
        payload: TemplateDraft,
    },
    /// One campaign's template to one customer (campaigns.sql), paced per number.
    #[serde(rename = "campaign.send")]
    CampaignSend {
        whatsapp: WhatsApp,
        payload: CampaignMessage,
    },
    /// The tenant's FAQ texts to embed (semantic.sql): none without a model or a key.
    #[serde(rename = "faq.embed")]
    FaqEmbed { llm: EmbedCall, embed: EmbedTexts },
    /// An M-Pesa STK push: the PIN prompt on the customer's phone (issue 24).
    #[serde(rename = "payment.stk_push")]
    PaymentPush { mpesa: MpesaCall },
    /// What became of a push whose callback has not come.
    #[serde(rename = "payment.query")]
    PaymentQuery { mpesa: MpesaCall },
}

/// A payment job's M-Pesa context (selling.sql's _payment_context): the tenant's Daraja app
/// and shortcode, its credentials decrypted for this job, and the payment.
#[derive(Debug, Deserialize)]
pub struct MpesaCall {
    /// sandbox or production: which Daraja base is called.
    #[serde(deserialize_with = "non_empty")]
    pub environment: String,
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub passkey: Secret,
    /// "<slug>/<token>" of the callback URL: the token is a secret.
    pub callback_path: Secret,
    #[serde(deserialize_with = "non_empty")]
    pub shortcode: String,
    #[serde(deserialize_with = "non_empty")]
    pub transaction_type: String,
    #[serde(deserialize_with = "non_empty")]
    pub party_b: String,
    /// Whole shillings.
    pub amount: u64,
    /// The customer's number; none once the customer was erased (a query needs none).
    pub phone: Option<String>,
    #[serde(deserialize_with = "non_empty")]
    pub reference: String,
    #[serde(deserialize_with = "non_empty")]
    pub description: String,
    pub checkout_request_id: Option<String>,
}

impl Work {
    pub fn kind(&self) -> &'static str {
        match self {
            Work::ReplySend { .. } => "reply.send",
            Work::AlertSend { .. } => "alert.send",
            Work::Generate { .. } => "reply.generate",
            Work::Transcribe { .. } => "media.transcribe",
            Work::TemplatesSync { .. } => "templates.sync",
            Work::PaymentPush { .. } => "payment.stk_push",
            Work::PaymentQuery { .. } => "payment.query",
            Work::CampaignSend { .. } => "campaign.send",
            Work::TemplatesSubmit { .. } => "templates.submit",
            Work::FaqEmbed { .. } => "faq.embed",
        }
    }
}

/// What the webhook said of a customer's media (ingest keeps it with the message).
#[derive(Debug, Deserialize)]
pub struct Media {
    #[serde(deserialize_with = "non_empty")]
    pub id: String,
    pub mime_type: Option<String>,
    /// Base64 (Meta's webhooks) or hex.
    pub sha256: Option<String>,
}

/// A job's payload that may name media.
#[derive(Debug, Default, Deserialize)]
pub struct WithMedia {
    pub media: Option<Media>,
}

/// A job's payload that must name media.
#[derive(Debug, Deserialize)]
pub struct MediaPayload {
    pub media: Media,
}

/// Where and with which model to transcribe (an OpenAI-compatible /audio/transcriptions).
#[derive(Debug, Deserialize)]
pub struct TranscriptionCall {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    #[serde(deserialize_with = "non_empty")]
    pub model: String,
}

/// The tenant's number and its token, decrypted for this job.
#[derive(Debug, Deserialize)]
pub struct WhatsApp {
    #[serde(deserialize_with = "non_empty")]
    pub phone_number_id: String,
    pub access_token: Secret,
}

/// The tenant's WhatsApp Business account and its token (a templates.sync job).
#[derive(Debug, Deserialize)]
pub struct BusinessAccount {
    #[serde(deserialize_with = "non_empty")]
    pub business_account_id: String,
    pub access_token: Secret,
}

/// A WhatsApp message to send: a text, or one of the tenant's templates (send_template).
#[derive(Debug, Deserialize)]
pub struct Send {
    /// The customer's phone (wa_id); without it, the business-scoped user id.
    pub to: Option<String>,
    pub recipient: Option<String>,
    /// The text; for a template, its rendering, kept for the log and not sent.
    #[serde(deserialize_with = "non_empty")]
    pub text: String,
    /// The inbound message this answers: quoted, and marked read first.
    pub context_wamid: Option<String>,
    /// Sent instead of the text when present.
    pub template: Option<TemplateSend>,
    /// Reply buttons or a list to choose from, the text as their body (issue 24).
    pub interactive: Option<Interactive>,
}

/// What a customer can choose from, as a send's job carries it: reply buttons (at most 3,
/// titles of at most 20 characters) or a list (at most 10 rows, titles of at most 24). SQL
/// checks the shape when it queues one (_interactive_problem); `problem` checks it again, so a
/// shape Meta would refuse fails for good and is never sent half-made.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Interactive {
    Button { buttons: Vec<Choice> },
    List { button: String, rows: Vec<Choice> },
}

/// One button or list row: the id that comes back in the customer's reply, and what he reads.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl Interactive {
    /// Why Meta would refuse it with this body text, or None (Meta's published limits).
    pub fn problem(&self, body: &str) -> Option<String> {
        let chars = |s: &str| s.chars().count();
        if chars(body) > 1024 {
            return Some("an interactive message's text is over 1024 characters".into());
        }
        let (choices, most, title_max, id_max) = match self {
            Interactive::Button { buttons } => (buttons, 3, 20, 256),
            Interactive::List { button, rows } => {
                if button.trim().is_empty() || chars(button) > 20 {
                    return Some("a list's button text must be 1 to 20 characters".into());
                }
                (rows, 10, 24, 200)
            }
        };
        if choices.is_empty() || choices.len() > most {
            return Some(format!(
                "an interactive message has 1 to {most} choices, not {}",
                choices.len()
            ));
        }
        for (i, c) in choices.iter().enumerate() {
            if c.title.trim().is_empty() || chars(&c.title) > title_max {
                return Some(format!(
                    "choice {} has a title of {} characters (1 to {title_max})",
                    i + 1,
                    chars(&c.title)
                ));
            }
            if c.id.is_empty() || c.id.trim() != c.id || chars(&c.id) > id_max {
                return Some(format!(
                    "choice {} has an id Meta refuses (1 to {id_max} characters, no spaces around)",
                    i + 1
                ));
            }
            if c.description.as_deref().is_some_and(|d| chars(d) > 72) {
                return Some(format!(
                    "choice {} has a description over 72 characters",
                    i + 1
                ));
            }
            if choices[..i]
                .iter()
                .any(|o| o.id == c.id || o.title == c.title)
            {
                return Some(format!("choice {} repeats an id or a title", i + 1));
            }
        }
        None
    }
}

/// A new template as Meta's review takes it: components as create_template built them.
#[derive(Debug, Deserialize)]
pub struct TemplateDraft {
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    #[serde(deserialize_with = "non_empty")]
    pub language: String,
    #[serde(deserialize_with = "non_empty")]
    pub category: String,
    pub components: Value,
}

/// A campaign's message to one customer: its recipient row (named to Meta, whose status
/// webhooks then name it back), the number's pace, and the template with this customer's
/// parameters.
#[derive(Debug, Deserialize)]
pub struct CampaignMessage {
    pub recipient_id: i64,
    /// Messages a second from the tenant's number (campaign_rate).
    pub rate: u32,
    /// The customer's phone (wa_id); without it, the business-scoped user id.
    pub to: Option<String>,
    pub recipient: Option<String>,
    pub template: TemplateSend,
}

/// An approved template with its body's parameters, in order.
#[derive(Debug, Deserialize)]
pub struct TemplateSend {
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    #[serde(deserialize_with = "non_empty")]
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// An alert and the channels to try, in order (claim_jobs decides them from the 24-hour rule,
/// the template and the token; email and operator are sent only when configured).
#[derive(Debug, Deserialize)]
pub struct AlertCall {
    #[serde(deserialize_with = "non_empty")]
    pub text: String,
    pub kind: String,
    pub tenant_name: String,
    /// The escalation phone (WhatsApp channels).
    pub to: Option<String>,
    /// The owner's email address.
    pub email: Option<String>,
    pub channels: Vec<String>,
    pub template: Option<Template>,
    /// The customer's conversation the alert is about, for a link to the console.
    pub conversation_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: String,
}

/// The assembled chat-completions request and where to send it; with semantic FAQ matching
/// on (and a key), the message to embed first.
#[derive(Debug, Deserialize)]
pub struct LlmCall {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub request: Value,
    pub semantic: Option<SemanticCall>,
}

/// The customer's message and the embeddings model to embed it with.
#[derive(Debug, Deserialize)]
pub struct SemanticCall {
    #[serde(deserialize_with = "non_empty")]
    pub model: String,
    #[serde(deserialize_with = "non_empty")]
    pub text: String,
}

/// Where a faq.embed job's embeddings call goes (the key only when there is something to embed).
#[derive(Debug, Deserialize)]
pub struct EmbedCall {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
}

/// A faq.embed job's texts, each named by its entry and the sha256 of its words.
#[derive(Debug, Deserialize)]
pub struct EmbedTexts {
    pub model: Option<String>,
    #[serde(default)]
    pub texts: Vec<EmbedText>,
}

#[derive(Debug, Deserialize)]
pub struct EmbedText {
    pub entry_id: i64,
    #[serde(deserialize_with = "non_empty")]
    pub sha256: String,
    #[serde(deserialize_with = "non_empty")]
    pub text: String,
}

/// A claimed job as it came: typed when it reads as one, else its id and why not.
pub enum Claimed {
    Job(Box<Job>),
    Malformed { id: Option<i64>, reason: String },
}

impl Claimed {
    pub fn id(&self) -> Option<i64> {
        match self {
            Claimed::Job(job) => Some(job.id),
            Claimed::Malformed { id, .. } => *id,
        }
    }

    pub fn read(value: Value) -> Claimed {
        let id = value.get("id").and_then(Value::as_i64);
        match serde_json::from_value::<Job>(value) {
            Ok(job) => Claimed::Job(Box::new(job)),
            Err(e) => Claimed::Malformed {
                id,
                reason: format!("the claimed job does not read as its kind requires: {e}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn send_job() -> Value {
        json!({"id": 7, "tenant_id": "t", "tenant": "kassangas", "kind": "reply.send", "attempt": 1,
               "max_attempts": 5, "whatsapp": {"phone_number_id": "1098", "access_token": "EAAtest-x"},
               "payload": {"to": "2547", "recipient": null, "text": "hi", "context_wamid": "wamid.1",
                           "customer": "2547", "inbound_message_id": 3}})
    }

    #[test]
    fn buttons_and_lists_read_from_a_send_job_and_meta_s_limits_are_checked() {
        let mut job = send_job();
        job["payload"]["interactive"] = json!({"type": "button", "buttons": [
            {"id": "pay_mpesa", "title": "Pay with M-Pesa"}, {"id": "pay_shop", "title": "Pay in the shop"}]});
        let Claimed::Job(job) = Claimed::read(job) else {
            panic!("a send job with buttons reads")
        };
        let Work::ReplySend { payload, .. } = job.work else {
            panic!("kind")
        };
        let interactive = payload.interactive.expect("buttons");
        assert_eq!(interactive.problem("How would you like to pay?"), None);
        let read = |v: Value| serde_json::from_value::<Interactive>(v).unwrap();
        let button = |title: &str| json!({"id": title.to_lowercase(), "title": title});
        for (shape, problem) in [
            (
                json!({"type": "button", "buttons": []}),
                "1 to 3 choices, not 0",
            ),
            (
                json!({"type": "button", "buttons": [button("A"), button("B"), button("C"), button("D")]}),
                "1 to 3 choices, not 4",
            ),
            (
                json!({"type": "button", "buttons": [button("Pay with M-Pesa today!")]}),
                "title of 22 characters (1 to 20)",
            ),
            (
                json!({"type": "button", "buttons": [button("Yes"), button("Yes")]}),
                "repeats an id or a title",
            ),
            (
                json!({"type": "button", "buttons": [{"id": " x", "title": "X"}]}),
                "has an id Meta refuses",
            ),
            (
                json!({"type": "list", "button": "", "rows": [button("A")]}),
                "button text must be 1 to 20",
            ),
            (
                json!({"type": "list", "button": "Choose", "rows": (0..11).map(|i| button(&format!("Row {i}"))).collect::<Vec<_>>()}),
                "1 to 10 choices, not 11",
            ),
            (
                json!({"type": "list", "button": "Choose", "rows": [{"id": "a", "title": "A", "description": "d".repeat(73)}]}),
                "description over 72",
            ),
        ] {
            let found = read(shape.clone())
                .problem("Choose one")
                .unwrap_or_default();
            assert!(found.contains(problem), "{shape}: {found}");
        }
        let long = "x".repeat(1025);
        assert!(read(json!({"type": "button", "buttons": [button("A")]}))
            .problem(&long)
            .is_some());
    }

    #[test]
    fn each_kind_reads_with_its_context() {
        let Claimed::Job(job) = Claimed::read(send_job()) else {
            panic!("a send job reads")
        };
        let Work::ReplySend { whatsapp, payload } = job.work else {
            panic!("kind")
        };
        assert_eq!(
            (
                job.id,
                whatsapp.access_token.expose(),
                payload.text.as_str()
            ),
            (7, "EAAtest-x", "hi")
        );
        let generate = json!({"id": 8, "tenant": "k", "kind": "reply.generate", "attempt": 2,
                              "llm": {"base_url": null, "api_key": null, "request": {"model": "m"}}});
        let Claimed::Job(job) = Claimed::read(generate) else {
            panic!("a generate job reads")
        };
        let Work::Generate {
            llm,
            whatsapp,
            payload,
        } = job.work
        else {
            panic!("kind")
        };
        assert!(llm.api_key.is_none() && llm.request["model"] == "m");
        assert!(
            whatsapp.is_none() && payload.media.is_none(),
            "no photo: no token"
        );
        let transcribe = json!({"id": 9, "tenant": "k", "kind": "media.transcribe", "attempt": 1,
                                "llm": {"base_url": "http://llm/v1", "api_key": "sk-test-x", "model": "whisper-1"},
                                "whatsapp": {"phone_number_id": "1098", "access_token": "EAAtest-x"},
                                "payload": {"media": {"id": "123", "mime_type": "audio/ogg; codecs=opus", "sha256": "abc="}}});
        let Claimed::Job(job) = Claimed::read(transcribe) else {
            panic!("a transcribe job reads")
        };
        let Work::Transcribe { llm, payload, .. } = job.work else {
            panic!("kind")
        };
        assert_eq!(
            (llm.model.as_str(), payload.media.id.as_str()),
            ("whisper-1", "123")
        );
        let no_media = json!({"id": 10, "tenant": "k", "kind": "media.transcribe", "attempt": 1,
                              "llm": {"model": "whisper-1"}, "whatsapp": {"phone_number_id": "1", "access_token": "x"},
                              "payload": {}});
        let Claimed::Malformed { reason, .. } = Claimed::read(no_media) else {
            panic!("a transcription without media is refused")
        };
        assert!(reason.contains("missing field `media`"), "{reason}");
    }

    #[test]
    fn a_persons_template_and_a_templates_sync_read_with_what_they_need() {
        let mut job = send_job();
        job["payload"]["template"] = json!({"name": "order_ready", "language": "en",
                                            "parameters": ["Wanjiru", "violin"]});
        let Claimed::Job(job) = Claimed::read(job) else {
            panic!("a template send reads")
        };
        let Work::ReplySend { payload, .. } = job.work else {
            panic!("kind")
        };
        let template = payload.template.expect("the template");
        assert_eq!(
            (template.name.as_str(), template.parameters.len()),
            ("order_ready", 2)
        );
        let sync = json!({"id": 11, "tenant": "k", "kind": "templates.sync", "attempt": 1, "payload": {},
                          "whatsapp": {"phone_number_id": "1098", "access_token": "EAAtest-x",
                                       "business_account_id": "102290129340398"}});
        let Claimed::Job(job) = Claimed::read(sync.clone()) else {
            panic!("a templates.sync reads")
        };
        assert_eq!(job.work.kind(), "templates.sync");
        let Work::TemplatesSync { whatsapp } = job.work else {
            panic!("kind")
        };
        assert_eq!(whatsapp.business_account_id, "102290129340398");
        let mut no_account = sync;
        no_account["whatsapp"]["business_account_id"] = Value::Null;
        assert!(matches!(
            Claimed::read(no_account),
            Claimed::Malformed { id: Some(11), .. }
        ));
    }

    #[test]
    fn a_job_without_its_token_or_text_is_malformed_and_says_why() {
        for (pointer, value, why) in [
            ("/whatsapp/access_token", json!(""), "a credential is empty"),
            ("/whatsapp/access_token", Value::Null, "invalid type: null"),
            ("/payload/text", json!(" "), "a required text is empty"),
            ("/kind", json!("reply.fax"), "unknown variant `reply.fax`"),
        ] {
            let mut job = send_job();
            *job.pointer_mut(pointer).unwrap() = value;
            let Claimed::Malformed { id, reason } = Claimed::read(job) else {
                panic!("{pointer} must be refused")
            };
            assert_eq!(id, Some(7));
            assert!(reason.contains(why), "{reason}");
        }
        let mut job = send_job();
        job.as_object_mut().unwrap().remove("whatsapp");
        let Claimed::Malformed { reason, .. } = Claimed::read(job) else {
            panic!()
        };
        assert!(reason.contains("missing field `whatsapp`"), "{reason}");
    }

    #[test]
    fn debug_never_shows_a_credential() {
        let Claimed::Job(job) = Claimed::read(send_job()) else {
            panic!()
        };
        assert!(!format!("{job:?}").contains("EAAtest"));
    }
}
