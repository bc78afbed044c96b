//! Mock Meta Graph API and mock OpenAI-compatible LLM: real HTTP servers on 127.0.0.1 that
//! record every request, check it against the published spec, and answer as scripted. Meta's
//! also serves media (retrieval and download); the LLM's also transcribes and embeds.
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The JSON body; for a multipart body, its fields as an object (a file as "<n bytes>").
    pub body: Value,
    /// A multipart body's file: (file name, content type, bytes).
    pub upload: Option<(String, String, Vec<u8>)>,
    /// Where the body breaks the spec's request schema; empty when it conforms.
    pub violations: Vec<String>,
    pub received_at: Instant,
}

#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Meta,
    Llm,
    /// An incoming webhook (the operator's): records JSON bodies, answers 200.
    Hook,
}

struct Inner {
    kind: Kind,
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Scripted>>,
    always: Mutex<Option<Scripted>>,
    sent: AtomicU64,
    unchecked: Mutex<bool>,
    media: Mutex<HashMap<String, Served>>,
    /// Failures and latency on purpose: (share of answers that fail, longest delay).
    chaos: Mutex<Option<(f64, Duration)>>,
    random: AtomicU64,
    /// Meta's status webhooks after each accepted send: relay base URLs, app secret, and one
    /// client for them all (a client per post loads the system's certificates every time).
    statuses: Mutex<Option<StatusPoster>>,
    /// Sends Meta accepted: (the inbound message answered, the new message's wamid).
    accepted: Mutex<Vec<(Option<String>, String)>>,
    /// Meta: recipients whose sends are refused for good, by prefix, with the error code
    /// (131026, undeliverable; 131049, a marketing message held back).
    refused: Mutex<Vec<(String, i64)>>,
    /// Meta: the WhatsApp Business account's message templates (GET /{waba-id}/message_templates);
    /// a scripted answer comes first.
    templates: Mutex<Vec<Value>>,
    /// The LLM's embeddings: texts it places where it places others (see `embed_as`).
    embed_as: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
struct StatusPoster {
    relays: Vec<String>,
    app_secret: String,
    client: reqwest::Client,
}

/// A media file the mock Graph API serves: its bytes, the mime type and size its retrieval
/// answer states (which may differ from the truth, as a test wants).
#[derive(Clone, Debug)]
pub struct Served {
    pub bytes: Vec<u8>,
    pub mime_type: String,
    pub file_size: u64,
    /// Sent in chunks without a Content-Length, as a server that does not say.
    pub chunked: bool,
}

pub struct Mock {
    /// Base URL: Meta's includes the API version (`…/v23.0`), the LLM's ends in `/v1`.
    pub base: String,
    inner: Arc<Inner>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Mock {
    pub fn meta() -> Mock {
        Mock::start(Kind::Meta, "/v23.0")
    }

    pub fn llm() -> Mock {
        Mock::start(Kind::Llm, "/v1")
    }

    /// An operator's incoming webhook: records what is POSTed, answers 200 (or as scripted).
    pub fn hook() -> Mock {
        Mock::start(Kind::Hook, "/hooks/operator")
    }

    /// A mock Graph API that answers at once without checking bodies against the spec (for
    /// benchmarks, where the check's cost would be measured too).
    pub fn meta_unchecked() -> Mock {
        let mock = Mock::start(Kind::Meta, "/v23.0");
        *mock.inner.unchecked.lock().unwrap() = true;
        mock
    }

    fn start(kind: Kind, prefix: &str) -> Mock {
        let inner = Arc::new(Inner {
            kind,
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
            sent: AtomicU64::new(0),
            unchecked: Mutex::new(false),
            media: Mutex::new(HashMap::new()),
            chaos: Mutex::new(None),
            random: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            statuses: Mutex::new(None),
            accepted: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            templates: Mutex::new(Vec::new()),
            embed_as: Mutex::new(HashMap::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}{prefix}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = inner.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let state = state.clone();
                    async move { handle(state, request).await }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Mock {
            base,
            inner,
            stop: Some(stop),
        }
    }

    /// The next answers, in order; after them, `always` or the default success.
    pub fn push(&self, status: u16, body: Value) {
        self.inner.script.lock().unwrap().push_back(Scripted {
            status,
            body,
            delay: Duration::ZERO,
        });
    }

    /// The LLM's embeddings: `text` gets the vector of `like`, as a real model places a
    /// paraphrase that shares no word with its original next to it. Other texts get their bag
    /// of words (texts that share words are near).
    pub fn embed_as(&self, text: &str, like: &str) {
        let mut embed_as = self.inner.embed_as.lock().unwrap();
        embed_as.insert(text.to_string(), like.to_string());
    }

    /// The LLM's embeddings requests.
    pub fn embeddings(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/embeddings"))
            .collect()
    }

    /// The LLM's chat completions requests.
    pub fn completions(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .collect()
    }

    pub fn always(&self, answer: Option<Scripted>) {
        *self.inner.always.lock().unwrap() = answer;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Message sends only (Meta), without read receipts and media requests.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.method == "POST"
                    && r.body.get("status").is_none()
                    && !r.path.ends_with("/message_templates")
            })
            .collect()
    }

    /// From now on a `failure_rate` share of unscripted answers fail, half as overload and half
    /// as throttling (Meta: 503 with its transient code 131000 or 429 with 130429; the LLM: 503
    /// or 429 rate_limit_exceeded), and each waits a random time up to `max_delay`.
    pub fn chaos(&self, failure_rate: f64, max_delay: Duration) {
        *self.inner.chaos.lock().unwrap() = Some((failure_rate, max_delay));
    }

    /// Meta: every send to a number starting with `prefix` fails for good (131026, the message
    /// is undeliverable), before any chaos.
    pub fn refuse_recipients(&self, prefix: &str) {
        self.inner
            .refused
            .lock()
            .unwrap()
            .push((prefix.to_string(), 131026));
    }

    /// Meta: every send to a number starting with `prefix` is refused with 131049 (Meta holds
    /// back marketing messages to a customer who got many lately), before any chaos.
    pub fn hold_back_marketing(&self, prefix: &str) {
        self.inner
            .refused
            .lock()
            .unwrap()
            .push((prefix.to_string(), 131049));
    }

    /// Meta: after each accepted send, a signed `sent` status webhook (with the send's
    /// biz_opaque_callback_data) is posted to one of these relays, as Meta does.
    pub fn send_statuses(&self, relays: Vec<String>, app_secret: &str) {
        *self.inner.statuses.lock().unwrap() = Some(StatusPoster {
            relays,
            app_secret: app_secret.to_string(),
            client: reqwest::Client::new(),
        });
    }

    /// Sends Meta accepted: (the inbound message each answers, its wamid).
    pub fn accepted(&self) -> Vec<(Option<String>, String)> {
        self.inner.accepted.lock().unwrap().clone()
    }

    /// Serves media `id` (Meta): its retrieval answer states `mime_type` and the true size.
    pub fn serve_media(&self, id: &str, bytes: &[u8], mime_type: &str) {
        self.serve(
            id,
            Served {
                bytes: bytes.to_vec(),
                mime_type: mime_type.into(),
                file_size: bytes.len() as u64,
                chunked: false,
            },
        );
    }

    /// Serves media `id` as described, stated size and all.
    /// The message templates the mock's WhatsApp Business accounts have (every account the same),
    /// as Meta lists them: name, language, status, category, components.
    pub fn serve_templates(&self, templates: Vec<Value>) {
        *self.inner.templates.lock().unwrap() = templates;
    }

    pub fn serve(&self, id: &str, served: Served) {
        self.inner
            .media
            .lock()
            .unwrap()
            .insert(id.to_string(), served);
    }

    /// The media downloads asked of the mock (Meta).
    pub fn downloads(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.contains(DOWNLOAD))
            .collect()
    }

    /// Waits until `predicate` holds for the recorded requests; panics after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        predicate: impl Fn(&[Recorded]) -> bool,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if predicate(&requests) {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} requests",
                requests.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Where the mock Graph API serves media bytes (the url its retrieval answer gives).
const DOWNLOAD: &str = "/media-download/";

async fn handle(state: Arc<Inner>, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query: Vec<(String, String)> = reqwest::Url::parse(&format!(
        "http://mock/?{}",
        request.uri().query().unwrap_or("")
    ))
    .map(|u| {
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default();
    let headers = request.headers().clone();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let unchecked = *state.unchecked.lock().unwrap();
    let record = |body: Value, upload, violations: Vec<String>| Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
        body,
        upload,
        violations,
        received_at: Instant::now(),
    };
    if state.kind == Kind::Meta && method == "GET" && path.ends_with("/message_templates") {
        let violations = if unchecked {
            vec![]
        } else {
            crate::spec::meta_list_templates().violations(&query, &headers)
        };
        state
            .requests
            .lock()
            .unwrap()
            .push(record(Value::Null, None, violations));
        let scripted = state.script.lock().unwrap().pop_front();
        if let Some(answer) = scripted {
            let status = axum::http::StatusCode::from_u16(answer.status).unwrap();
            return (status, axum::Json(answer.body)).into_response();
        }
        let data = state.templates.lock().unwrap().clone();
        return axum::Json(
            json!({"data": data, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}),
        )
        .into_response();
    }
    if state.kind == Kind::Meta && method == "GET" {
        let downloading = path.contains(DOWNLOAD);
        let operation = if downloading {
            crate::spec::meta_download_media()
        } else {
            crate::spec::meta_retrieve_media()
        };
        let violations = if unchecked {
            vec![]
        } else {
            operation.violations(&query, &headers)
        };
        state
            .requests
            .lock()
            .unwrap()
            .push(record(Value::Null, None, violations));
        let id = path.rsplit('/').next().unwrap_or("").to_string();
        let served = state.media.lock().unwrap().get(&id).cloned();
        let Some(served) = served else {
            let missing = meta_error(100, "Unsupported get request: media not found");
            return (axum::http::StatusCode::NOT_FOUND, axum::Json(missing)).into_response();
        };
        if downloading {
            let content_type = [(axum::http::header::CONTENT_TYPE, served.mime_type.clone())];
            if served.chunked {
                // A pause before each chunk: a body that is all there at once gets a length.
                let chunks: Vec<Vec<u8>> =
                    served.bytes.chunks(64 << 10).map(<[u8]>::to_vec).collect();
                let stream =
                    futures_util::stream::unfold(chunks.into_iter(), |mut rest| async move {
                        let chunk = rest.next()?;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        Some((Ok::<_, std::io::Error>(chunk), rest))
                    });
                return (content_type, axum::body::Body::from_stream(stream)).into_response();
            }
            return (content_type, served.bytes).into_response();
        }
        let origin = format!(
            "http://{}",
            headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
        );
        let prefix = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
            &served.bytes,
        ));
        return axum::Json(json!({
            "messaging_product": "whatsapp",
            "url": format!("{origin}{prefix}{DOWNLOAD}{id}"),
            "mime_type": served.mime_type,
            "sha256": hex::encode(digest),
            "file_size": served.file_size.to_string(),
            "id": id,
        }))
        .into_response();
    }
    if state.kind == Kind::Llm && path.ends_with("/audio/transcriptions") {
        use axum::extract::FromRequest;
        let mut fields = serde_json::Map::new();
        let mut upload = None;
        let mut violations = Vec::new();
        match axum::extract::Multipart::from_request(request, &()).await {
            Ok(mut multipart) => {
                while let Ok(Some(field)) = multipart.next_field().await {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let content_type = field.content_type().unwrap_or("").to_string();
                    let bytes = field.bytes().await.unwrap_or_default().to_vec();
                    match file_name {
                        Some(file_name) => {
                            fields.insert(name, format!("<{} bytes>", bytes.len()).into());
                            upload = Some((file_name, content_type, bytes));
                        }
                        None => {
                            fields
                                .insert(name, String::from_utf8_lossy(&bytes).into_owned().into());
                        }
                    }
                }
            }
            Err(e) => violations.push(format!("not a multipart body: {e}")),
        }
        let body = Value::Object(fields);
        if !unchecked {
            violations.extend(crate::spec::openai_transcription_request().violations(&body));
            if upload.is_none() {
                violations.push("no file in the transcription request".into());
            }
        }
        state
            .requests
            .lock()
            .unwrap()
            .push(record(body, upload, violations));
        let scripted = state.script.lock().unwrap().pop_front();
        if let Some(answer) = scripted {
            let status = axum::http::StatusCode::from_u16(answer.status).unwrap();
            return (status, axum::Json(answer.body)).into_response();
        }
        return axum::Json(json!({"text": "What are your opening hours?"})).into_response();
    }
    let bytes = axum::body::to_bytes(request.into_body(), 8 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if state.kind == Kind::Meta && method == "POST" && path.ends_with("/message_templates") {
        return create_template(&state, body, unchecked, record);
    }
    if state.kind == Kind::Llm && path.ends_with("/embeddings") {
        let violations = if unchecked {
            vec![]
        } else {
            crate::spec::openai_embedding_request().violations(&body)
        };
        state
            .requests
            .lock()
            .unwrap()
            .push(record(body.clone(), None, violations));
        let inputs: Vec<String> = match &body["input"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .map(|t| t.as_str().unwrap_or("").to_string())
                .collect(),
            _ => vec![],
        };
        let embed_as = state.embed_as.lock().unwrap().clone();
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let text = embed_as.get(text).unwrap_or(text);
                json!({"object": "embedding", "index": index, "embedding": bag_of_words(text)})
            })
            .collect();
        let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
        return axum::Json(json!({
            "object": "list", "data": data, "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }))
        .into_response();
    }
    let is_read_receipt = state.kind == Kind::Meta && body.get("status").is_some();
    let violations = match state.kind {
        _ if unchecked => vec![],
        // Read receipts have an example in Meta's spec but no schema: check their exact shape.
        Kind::Meta if is_read_receipt => {
            let keys: Vec<&String> = body
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            let ok = body["messaging_product"] == "whatsapp"
                && body["status"] == "read"
                && body["message_id"].is_string()
                && keys.len() == 3;
            if ok {
                vec![]
            } else {
                vec![format!("not a read receipt: {body}")]
            }
        }
        Kind::Meta => crate::spec::meta_send_message().violations(&body),
        Kind::Llm => crate::spec::openai_chat_completion_request().violations(&body),
        Kind::Hook => vec![],
    };
    state
        .requests
        .lock()
        .unwrap()
        .push(record(body.clone(), None, violations));
    if is_read_receipt {
        return axum::Json(json!({"success": true})).into_response();
    }
    let scripted = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.always.lock().unwrap().clone());
    if let Some(answer) = scripted {
        tokio::time::sleep(answer.delay).await;
        let status = axum::http::StatusCode::from_u16(answer.status).unwrap();
        return (status, axum::Json(answer.body)).into_response();
    }
    let to = body["to"].as_str().unwrap_or("");
    let refused = state
        .refused
        .lock()
        .unwrap()
        .iter()
        .find(|(prefix, _)| to.starts_with(prefix.as_str()))
        .map(|(_, code)| *code);
    if let (Kind::Meta, Some(code)) = (state.kind, refused) {
        let refusal = match code {
            131049 => meta_error(
                code,
                "This message was not delivered to maintain healthy ecosystem engagement.",
            ),
            _ => meta_error(code, "Message undeliverable"),
        };
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
    }
    let chaos = *state.chaos.lock().unwrap();
    if let Some((rate, max_delay)) = chaos {
        tokio::time::sleep(max_delay.mul_f64(random(&state))).await;
        let roll = random(&state);
        if roll < rate {
            let throttled = roll < rate / 2.0;
            let body = match (state.kind, throttled) {
                (Kind::Meta, false) => meta_error(131000, "Something went wrong"),
                (Kind::Meta, true) => meta_error(130429, "Rate limit hit"),
                (_, false) => {
                    json!({"error": {"message": "The server is overloaded", "type": "server_error", "param": null, "code": null}})
                }
                (_, true) => {
                    json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
                }
            };
            let status = if throttled { 429 } else { 503 };
            return (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
                .into_response();
        }
    }
    let n = state.sent.fetch_add(1, Ordering::SeqCst) + 1;
    match state.kind {
        Kind::Hook => axum::Json(json!({"ok": true})).into_response(),
        Kind::Meta => {
            let wamid = format!("wamid.mock.{n}");
            let answered = body["context"]["message_id"].as_str().map(str::to_string);
            state.accepted.lock().unwrap().push((answered, wamid.clone()));
            let statuses = state.statuses.lock().unwrap().clone();
            if let Some(poster) = statuses {
                let number = path.trim_end_matches("/messages").rsplit('/').next().unwrap_or("").to_string();
                let pause = Duration::from_millis(20 + (random(&state) * 180.0) as u64);
                let first = n as usize;
                tokio::spawn(post_status(poster, number, wamid.clone(), body.clone(), pause, first));
            }
            axum::Json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}]
            }))
            .into_response()
        }
        Kind::Llm => axum::Json(json!({
            "id": format!("chatcmpl-mock-{n}"), "object": "chat.completion", "created": 1_700_000_000, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Our violins start at KES 15,000.", "refusal": null}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
        }))
        .into_response(),
    }
}

/// The mock's embedding of a text: its words (lowercased, letters and digits) hashed into 64
/// dimensions and normalised. Deterministic: texts sharing words are near, texts sharing none
/// are orthogonal but for collisions.
fn bag_of_words(text: &str) -> Vec<f32> {
    const DIMENSIONS: usize = 64;
    let mut vector = vec![0f32; DIMENSIONS];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // FNV-1a.
        let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        vector[(hash % DIMENSIONS as u64) as usize] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

/// Meta's "create template" (POST /{waba-id}/message_templates): the request checked against
/// the fields the spec's request body declares (name, language, category, components, each
/// component with a type); the template joins the account's list as PENDING (a scripted answer,
/// a refusal say, wins), and the answer is Meta's: id, status, category.
fn create_template(
    state: &Inner,
    body: Value,
    unchecked: bool,
    record: impl Fn(Value, Option<(String, String, Vec<u8>)>, Vec<String>) -> Recorded,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut violations = Vec::new();
    if !unchecked {
        let declared = ["name", "language", "category", "components"];
        for key in body
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if !declared.contains(&key.as_str()) {
                violations.push(format!("{key} is not a field of the request"));
            }
        }
        for key in ["name", "language", "category"] {
            if !body[key].is_string() {
                violations.push(format!("{key} is not a string"));
            }
        }
        let components = body["components"].as_array().cloned().unwrap_or_default();
        if components.is_empty() || components.iter().any(|c| !c["type"].is_string()) {
            violations.push("components is not a list of typed components".into());
        }
    }
    state
        .requests
        .lock()
        .unwrap()
        .push(record(body.clone(), None, violations));
    if let Some(answer) = state.script.lock().unwrap().pop_front() {
        let status = axum::http::StatusCode::from_u16(answer.status).unwrap();
        return (status, axum::Json(answer.body)).into_response();
    }
    let mut templates = state.templates.lock().unwrap();
    let id = format!("{}", 900_000 + templates.len());
    templates.push(json!({"name": body["name"], "language": body["language"], "status": "PENDING",
                          "category": body["category"], "components": body["components"], "id": id}));
    axum::Json(json!({"id": id, "status": "PENDING", "category": body["category"]})).into_response()
}

/// A number in [0, 1), from the mock's own xorshift (tests need no reproducible sequence, only
/// a spread).
fn random(state: &Inner) -> f64 {
    let mut x = state.random.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.random.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Meta's `sent` status webhook for a send, signed with the app secret, posted to one of the
/// relays after `pause` (another one if that fails: Meta retries too).
async fn post_status(
    poster: StatusPoster,
    number: String,
    wamid: String,
    send: Value,
    pause: Duration,
    first: usize,
) {
    let StatusPoster {
        relays,
        app_secret,
        client,
    } = poster;
    use hmac::{Hmac, Mac};
    tokio::time::sleep(pause).await;
    let mut status = json!({"id": wamid, "status": "sent", "timestamp": "1760000001", "recipient_id": send["to"]});
    if let Some(callback) = send.get("biz_opaque_callback_data") {
        status["biz_opaque_callback_data"] = callback.clone();
    }
    let webhook = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": number, "phone_number_id": number},
        "statuses": [status]}}]}]})
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(webhook.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    // As Meta, which retries a webhook for days: until a relay takes it, here for 30 s (a relay
    // killed and started again gets the statuses of the sends it made before).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for attempt in 0.. {
        if tokio::time::Instant::now() > deadline {
            return;
        }
        let Some(relay) = relays.get((first + attempt) % relays.len().max(1)) else {
            return;
        };
        let sent = client
            .post(format!("{relay}/webhook"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .body(webhook.clone())
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A Meta Graph API error body, as Meta sends them.
pub fn meta_error(code: i64, details: &str) -> Value {
    json!({"error": {"message": format!("(#{code}) {details}"), "type": "OAuthException", "code": code,
                     "error_data": {"messaging_product": "whatsapp", "details": details}, "fbtrace_id": "AbCdEf"}})
}
