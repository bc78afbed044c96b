//! Mock Meta Graph API and mock OpenAI-compatible LLM: real HTTP servers on 127.0.0.1 that
//! record every request, check its body against the published spec, and answer as scripted.
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
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

    pub fn always(&self, answer: Option<Scripted>) {
        *self.inner.always.lock().unwrap() = answer;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Message sends only (Meta), without read receipts.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.body.get("status").is_none())
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

async fn handle(state: Arc<Inner>, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = axum::body::to_bytes(request.into_body(), 8 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let is_read_receipt = state.kind == Kind::Meta && body.get("status").is_some();
    let unchecked = *state.unchecked.lock().unwrap();
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
    state.requests.lock().unwrap().push(Recorded {
        path,
        authorization,
        body: body.clone(),
        violations,
        received_at: Instant::now(),
    });
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
    let n = state.sent.fetch_add(1, Ordering::SeqCst) + 1;
    match state.kind {
        Kind::Hook => axum::Json(json!({"ok": true})).into_response(),
        Kind::Meta => axum::Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": format!("wamid.mock.{n}")}]
        }))
        .into_response(),
        Kind::Llm => axum::Json(json!({
            "id": format!("chatcmpl-mock-{n}"), "object": "chat.completion", "created": 1_700_000_000, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Our violins start at KES 15,000.", "refusal": null}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
        }))
        .into_response(),
    }
}

/// A Meta Graph API error body, as Meta sends them.
pub fn meta_error(code: i64, details: &str) -> Value {
    json!({"error": {"message": format!("(#{code}) {details}"), "type": "OAuthException", "code": code,
                     "error_data": {"messaging_product": "whatsapp", "details": details}, "fbtrace_id": "AbCdEf"}})
}
