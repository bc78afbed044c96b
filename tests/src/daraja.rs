//! A mock of Safaricom's Daraja ("Lipa na M-Pesa Online"), a real HTTP server on 127.0.0.1: it
//! hands out OAuth tokens for one consumer key and secret, checks every field of each STK push
//! and query (the Password from the shortcode's passkey, one Nairobi-time Timestamp, a whole
//! Amount, an AccountReference of at most 12 characters, ...), and then acts out what the
//! customer does, as scripted per push: pays, cancels (1032), does not answer (1037, no
//! callback: only the query tells), pays with the callback sent twice, or a callback whose
//! amount is not the one asked. Callbacks go to the path the push named, on the relay's address.
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the customer does with the PIN prompt of the next push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Customer {
    Pays,
    Cancels,
    /// No answer within the prompt's minute: no callback; a query says 1037.
    Unreachable,
    /// Pays, and the callback arrives twice.
    PaysTwiceCalledBack,
    /// A callback that says paid, with an amount one shilling short.
    PaysWrongAmount,
}

/// One request the mock received, with what is wrong with it (empty when nothing).
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub body: Value,
    pub problems: Vec<String>,
}

struct Inner {
    consumer_key: String,
    consumer_secret: String,
    shortcode: String,
    passkey: String,
    token: String,
    plans: Mutex<VecDeque<Customer>>,
    /// CheckoutRequestID → what the customer did, for the query.
    pushed: Mutex<HashMap<String, (Customer, u32)>>,
    calls: Mutex<Vec<Call>>,
    tokens_issued: Mutex<u32>,
    /// Where callbacks go: the relay's base URL (the push's CallBackURL names the path).
    relay: Mutex<Option<String>>,
    /// The callbacks sent: (status the relay answered, its body).
    callbacks: Mutex<Vec<(u16, String)>>,
}

pub struct Daraja {
    pub base: String,
    inner: Arc<Inner>,
}

impl Daraja {
    pub fn start(
        consumer_key: &str,
        consumer_secret: &str,
        shortcode: &str,
        passkey: &str,
    ) -> Daraja {
        let inner = Arc::new(Inner {
            consumer_key: consumer_key.into(),
            consumer_secret: consumer_secret.into(),
            shortcode: shortcode.into(),
            passkey: passkey.into(),
            token: "mock-daraja-access-token-7f3a".into(),
            plans: Mutex::new(VecDeque::new()),
            pushed: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            tokens_issued: Mutex::new(0),
            relay: Mutex::new(None),
            callbacks: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = inner.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let state = state.clone();
                    async move { handle(state, request).await }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Daraja { base, inner }
    }

    /// What the customer does with the next push's prompt (default: pays).
    pub fn next_customer(&self, customer: Customer) {
        self.inner.plans.lock().unwrap().push_back(customer);
    }

    /// Callbacks are posted to this relay.
    pub fn call_back_to(&self, relay_url: &str) {
        *self.inner.relay.lock().unwrap() = Some(relay_url.trim_end_matches('/').to_string());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn tokens_issued(&self) -> u32 {
        *self.inner.tokens_issued.lock().unwrap()
    }

    pub fn callbacks(&self) -> Vec<(u16, String)> {
        self.inner.callbacks.lock().unwrap().clone()
    }
}

/// YYYYMMDDHHmmss of a Unix time in Nairobi (UTC+3).
fn nairobi(unix: u64) -> String {
    let s = unix + 3 * 3600;
    let (days, rest) = ((s / 86_400) as i64, s % 86_400);
    // Civil date from days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Problems with a request's Timestamp and Password: 14 digits, Nairobi time within two minutes
/// of now (a UTC timestamp is three hours off), the Password built from that same Timestamp.
fn check_password(inner: &Inner, body: &Value, problems: &mut Vec<String>) {
    let timestamp = body["Timestamp"].as_str().unwrap_or_default();
    if timestamp.len() != 14 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        problems.push(format!("Timestamp {timestamp:?} is not YYYYMMDDHHmmss"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let near = (now - 120..=now + 120)
        .step_by(1)
        .any(|t| nairobi(t) == timestamp);
    if !near {
        problems.push(format!(
            "Timestamp {timestamp} is not Nairobi's time now (Invalid Timestamp)"
        ));
    }
    if body["BusinessShortCode"] != json!(inner.shortcode) {
        problems.push(format!(
            "BusinessShortCode {} is not {}",
            body["BusinessShortCode"], inner.shortcode
        ));
    }
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{}{}{timestamp}", inner.shortcode, inner.passkey));
    if body["Password"] != json!(expected) {
        problems.push("Password is not base64(shortcode + passkey + the same Timestamp)".into());
    }
}

fn check_push(inner: &Inner, body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check_password(inner, body, &mut problems);
    let phone = |field: &str| {
        body[field].as_str().is_some_and(|p| {
            p.len() == 12 && p.starts_with("254") && p.bytes().all(|b| b.is_ascii_digit())
        })
    };
    for field in ["PartyA", "PhoneNumber"] {
        if !phone(field) {
            problems.push(format!("{field} {} is not 2547XXXXXXXX", body[field]));
        }
    }
    if body["PartyA"] != body["PhoneNumber"] {
        problems.push("PartyA and PhoneNumber differ".into());
    }
    match body["TransactionType"].as_str() {
        Some("CustomerPayBillOnline") if body["PartyB"] == json!(inner.shortcode) => {}
        Some("CustomerBuyGoodsOnline")
            if body["PartyB"].as_str().is_some_and(|b| !b.is_empty()) => {}
        other => problems.push(format!(
            "TransactionType {other:?} with PartyB {}",
            body["PartyB"]
        )),
    }
    if !body["Amount"].is_u64() || body["Amount"].as_u64() == Some(0) {
        problems.push(format!(
            "Amount {} is not a whole number above 0",
            body["Amount"]
        ));
    }
    let reference = body["AccountReference"].as_str().unwrap_or_default();
    if reference.is_empty() || reference.chars().count() > 12 {
        problems.push(format!(
            "AccountReference {reference:?} is not 1 to 12 characters"
        ));
    }
    if body["TransactionDesc"].as_str().map_or(true, str::is_empty) {
        problems.push("no TransactionDesc".into());
    }
    let callback = body["CallBackURL"].as_str().unwrap_or_default();
    let parsed = reqwest::Url::parse(callback).ok();
    let secure = parsed.as_ref().is_some_and(|u| {
        u.scheme() == "https" || (u.scheme() == "http" && u.host_str() == Some("127.0.0.1"))
    });
    if !secure
        || !parsed
            .as_ref()
            .is_some_and(|u| u.path().starts_with("/mpesa/"))
    {
        problems.push(format!(
            "CallBackURL {callback:?} is not an https /mpesa/ address"
        ));
    }
    problems
}

async fn handle(inner: Arc<Inner>, request: axum::extract::Request) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let path = request.uri().path().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let record = |problems: Vec<String>| {
        inner.calls.lock().unwrap().push(Call {
            path: path.clone(),
            body: body.clone(),
            problems,
        });
    };
    if path == "/oauth/v1/generate" {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", inner.consumer_key, inner.consumer_secret));
        if authorization != format!("Basic {basic}") {
            record(vec!["wrong consumer key or secret".into()]);
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"}))).into_response();
        }
        record(vec![]);
        *inner.tokens_issued.lock().unwrap() += 1;
        return axum::Json(json!({"access_token": inner.token, "expires_in": "3599"}))
            .into_response();
    }
    if authorization != format!("Bearer {}", inner.token) {
        record(vec!["no valid access token".into()]);
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"})),
        )
            .into_response();
    }
    match path.as_str() {
        "/mpesa/stkpush/v1/processrequest" => {
            let problems = check_push(&inner, &body);
            let refused = !problems.is_empty();
            record(problems);
            if refused {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid request"}))).into_response();
            }
            let n = inner.pushed.lock().unwrap().len() + 1;
            let checkout = format!("ws_CO_{n:04}_mock");
            let customer = inner
                .plans
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Customer::Pays);
            inner
                .pushed
                .lock()
                .unwrap()
                .insert(checkout.clone(), (customer, 0));
            let callback_path = reqwest::Url::parse(body["CallBackURL"].as_str().unwrap())
                .unwrap()
                .path()
                .to_string();
            let (amount, phone) = (
                body["Amount"].as_u64().unwrap(),
                body["PhoneNumber"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
            let merchant = format!("29115-3462056{n}-1");
            tokio::spawn(act_out(
                inner.clone(),
                customer,
                callback_path,
                merchant.clone(),
                checkout.clone(),
                amount,
                phone,
            ));
            axum::Json(json!({"MerchantRequestID": merchant, "CheckoutRequestID": checkout,
                              "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
                              "CustomerMessage": "Success. Request accepted for processing"}))
            .into_response()
        }
        "/mpesa/stkpushquery/v1/query" => {
            let mut problems = Vec::new();
            check_password(&inner, &body, &mut problems);
            let checkout = body["CheckoutRequestID"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let known = inner.pushed.lock().unwrap().get(&checkout).copied();
            if known.is_none() {
                problems.push(format!("CheckoutRequestID {checkout:?} was never pushed"));
            }
            record(problems);
            let Some((customer, asked)) = known else {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid CheckoutRequestID"}))).into_response();
            };
            inner
                .pushed
                .lock()
                .unwrap()
                .insert(checkout.clone(), (customer, asked + 1));
            // The first query comes while the prompt is still on the phone.
            if asked == 0 {
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"requestId": "mock", "errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}))).into_response();
            }
            let (code, desc) = match customer {
                Customer::Cancels => ("1032", "Request cancelled by user"),
                Customer::Unreachable => ("1037", "DS timeout user cannot be reached"),
                _ => ("0", "The service request is processed successfully."),
            };
            axum::Json(json!({"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
                              "MerchantRequestID": "mock", "CheckoutRequestID": checkout, "ResultCode": code, "ResultDesc": desc}))
            .into_response()
        }
        _ => {
            record(vec![format!("no such Daraja path {path}")]);
            (StatusCode::NOT_FOUND, "not found").into_response()
        }
    }
}

/// The customer's answer to the prompt, as M-Pesa's callback(s) to the relay.
async fn act_out(
    inner: Arc<Inner>,
    customer: Customer,
    path: String,
    merchant: String,
    checkout: String,
    amount: u64,
    phone: u64,
) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stk = |code: Value, desc: &str, paid: Option<u64>| {
        let mut stk = json!({"MerchantRequestID": merchant, "CheckoutRequestID": checkout, "ResultCode": code, "ResultDesc": desc});
        if let Some(paid) = paid {
            stk["CallbackMetadata"] = json!({"Item": [
                {"Name": "Amount", "Value": paid}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20191219102115_u64},
                {"Name": "PhoneNumber", "Value": phone}]});
        }
        json!({"Body": {"stkCallback": stk}})
    };
    let bodies = match customer {
        Customer::Pays => vec![stk(
            json!(0),
            "The service request is processed successfully.",
            Some(amount),
        )],
        Customer::PaysTwiceCalledBack => {
            let paid = stk(
                json!(0),
                "The service request is processed successfully.",
                Some(amount),
            );
            vec![paid.clone(), paid]
        }
        Customer::PaysWrongAmount => vec![stk(
            json!(0),
            "The service request is processed successfully.",
            Some(amount - 1),
        )],
        // ResultCode as a string, as M-Pesa sometimes sends it.
        Customer::Cancels => vec![stk(json!("1032"), "Request cancelled by user", None)],
        Customer::Unreachable => vec![],
    };
    let Some(relay) = inner.relay.lock().unwrap().clone() else {
        return;
    };
    let client = reqwest::Client::new();
    for body in bodies {
        let answer = client
            .post(format!("{relay}{path}"))
            .json(&body)
            .send()
            .await;
        let seen = match answer {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        inner.callbacks.lock().unwrap().push(seen);
    }
}
