//! Safaricom's Daraja API, "Lipa na M-Pesa Online" (issue 24): an OAuth token per tenant
//! (cached until shortly before it expires), the STK push that puts a PIN prompt on the
//! customer's phone, and the query that asks what became of it when no callback came.
//!
//! Facts the requests follow: the Timestamp is YYYYMMDDHHmmss in Nairobi time (UTC+3, no
//! daylight saving), taken once and used both as itself and in the Password, which is
//! base64(shortcode + passkey + timestamp); Amount is a whole number; AccountReference is at
//! most 12 characters; a query for a push not yet answered gets errorCode 500.001.1001.
use super::{retry_after, Class, Failure};
use crate::contract::{MpesaCall, Secret};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Daraja's answer to a query while the customer has not yet answered the PIN prompt.
const STILL_PROCESSING: &str = "500.001.1001";
/// A token is renewed this long before Daraja says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

pub struct Mpesa {
    http: reqwest::Client,
    production: String,
    sandbox: String,
    /// Where Safaricom sends callbacks: the relay's public address of POST /mpesa
    /// (ALPHADOME_MPESA_CALLBACK_URL); without it no push is made.
    callback_base: Option<String>,
    /// Tokens by sha256 of (base URL, consumer key): one per tenant's Daraja app.
    tokens: Mutex<HashMap<[u8; 32], (Secret, Instant)>>,
}

/// What a push or a query came to, for complete_job (selling.sql's _payment_result).
pub type Answer = Value;

impl Mpesa {
    pub fn new(
        production: &str,
        sandbox: &str,
        callback_base: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Mpesa> {
        for (name, url) in [
            ("ALPHADOME_MPESA_URL", production),
            ("ALPHADOME_MPESA_SANDBOX_URL", sandbox),
        ] {
            reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("{name} is not a URL: {e}"))?;
        }
        if let Some(base) = callback_base {
            let url = reqwest::Url::parse(base)
                .map_err(|e| anyhow::anyhow!("ALPHADOME_MPESA_CALLBACK_URL is not a URL: {e}"))?;
            // Safaricom calls only https; plain http is for a loopback address (tests).
            let loopback = url.host_str().is_some_and(|h| {
                h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
            });
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                anyhow::bail!("ALPHADOME_MPESA_CALLBACK_URL must be an https address (Safaricom calls only https)");
            }
        }
        Ok(Mpesa {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            production: production.trim_end_matches('/').to_string(),
            sandbox: sandbox.trim_end_matches('/').to_string(),
            callback_base: callback_base.map(|b| b.trim_end_matches('/').to_string()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn base(&self, call: &MpesaCall) -> &str {
        if call.environment == "sandbox" {
            &self.sandbox
        } else {
            &self.production
        }
    }

    /// The tenant's OAuth token: the cached one while it has a minute left, else a new one.
    async fn token(&self, call: &MpesaCall) -> Result<Secret, Failure> {
        let base = self.base(call);
        let key: [u8; 32] = Sha256::new()
            .chain_update(base.as_bytes())
            .chain_update([0])
            .chain_update(call.consumer_key.expose().as_bytes())
            .finalize()
            .into();
        if let Some((token, until)) = self.tokens.lock().expect("token cache").get(&key) {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let response = self
            .http
            .get(format!(
                "{base}/oauth/v1/generate?grant_type=client_credentials"
            ))
            .basic_auth(
                call.consumer_key.expose(),
                Some(call.consumer_secret.expose()),
            )
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let (status, body) = read(response).await?;
        if !status.is_success() {
            return Err(failure(
                status,
                &body,
                "Daraja refused the consumer key and secret",
            ));
        }
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::new(
                    Class::Transient,
                    "Daraja's token answer has no access_token",
                )
            })?;
        // expires_in comes as a string ("3599") or a number.
        let lifetime = body["expires_in"]
            .as_u64()
            .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(3599);
        let until = Instant::now() + Duration::from_secs(lifetime).saturating_sub(TOKEN_MARGIN);
        let token = Secret::new(token.to_string());
        self.tokens
            .lock()
            .expect("token cache")
            .insert(key, (token.clone(), until));
        Ok(token)
    }

    /// The STK push: {"merchant_request_id", "checkout_request_id"} when M-Pesa accepted it
    /// (the prompt is on the phone; not paid yet), {"response_code", "response_desc"} when it
    /// answered but did not accept it.
    pub async fn push(&self, call: &MpesaCall) -> Result<Answer, Failure> {
        let Some(callback_base) = &self.callback_base else {
            return Err(Failure::new(
                Class::Permanent,
                "no ALPHADOME_MPESA_CALLBACK_URL: the relay cannot take M-Pesa's callbacks, so it makes no push",
            ));
        };
        let Some(phone) = call.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
            return Err(Failure::new(
                Class::Permanent,
                "the payment has no phone to push to (the customer was erased)",
            ));
        };
        let body = push_body(
            call,
            phone,
            &nairobi_timestamp(SystemTime::now()),
            callback_base,
        );
        let token = self.token(call).await?;
        let response = self
            .http
            .post(format!(
                "{}/mpesa/stkpush/v1/processrequest",
                self.base(call)
            ))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
            .await
            // A push whose answer never came may have reached the phone: not tried again.
            .map_err(|e| Failure {
                class: Class::Permanent,
                ..Failure::from_transport(e)
            })?;
        let (status, answer) = read(response).await?;
        if !status.is_success() {
            return Err(failure(status, &answer, "Daraja refused the push"));
        }
        Ok(push_outcome(&answer))
    }

    /// The query for a push without a callback: {"result_code", "result_desc"} once M-Pesa
    /// knows, {"pending": true} while the customer has not answered.
    pub async fn query(&self, call: &MpesaCall) -> Result<Answer, Failure> {
        let Some(checkout) = call.checkout_request_id.as_deref() else {
            return Err(Failure::new(
                Class::Permanent,
                "the payment has no CheckoutRequestID to query",
            ));
        };
        let timestamp = nairobi_timestamp(SystemTime::now());
        let body = json!({
            "BusinessShortCode": call.shortcode,
            "Password": password(&call.shortcode, call.passkey.expose(), &timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout,
        });
        let token = self.token(call).await?;
        let response = self
            .http
            .post(format!("{}/mpesa/stkpushquery/v1/query", self.base(call)))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let (status, answer) = read(response).await?;
        if answer["errorCode"] == STILL_PROCESSING {
            return Ok(json!({"pending": true}));
        }
        if !status.is_success() {
            return Err(failure(status, &answer, "Daraja refused the query"));
        }
        Ok(json!({"result_code": answer["ResultCode"], "result_desc": answer["ResultDesc"]}))
    }
}

/// The push's body: every field Daraja asks for, the timestamp the same in both places.
pub fn push_body(call: &MpesaCall, phone: &str, timestamp: &str, callback_base: &str) -> Value {
    json!({
        "BusinessShortCode": call.shortcode,
        "Password": password(&call.shortcode, call.passkey.expose(), timestamp),
        "Timestamp": timestamp,
        "TransactionType": call.transaction_type,
        "Amount": call.amount,
        "PartyA": phone,
        "PartyB": call.party_b,
        "PhoneNumber": phone,
        "CallBackURL": format!("{callback_base}/{}", call.callback_path.expose()),
        "AccountReference": call.reference.chars().take(12).collect::<String>(),
        "TransactionDesc": call.description.chars().take(13).collect::<String>(),
    })
}

/// What the push's answer means for the payment.
fn push_outcome(answer: &Value) -> Answer {
    let code = answer["ResponseCode"]
        .as_str()
        .map(str::to_string)
        .or_else(|| answer["ResponseCode"].as_i64().map(|c| c.to_string()));
    match (code.as_deref(), answer["CheckoutRequestID"].as_str()) {
        (Some("0"), Some(checkout)) => json!({
            "merchant_request_id": answer["MerchantRequestID"],
            "checkout_request_id": checkout,
        }),
        _ => json!({
            "response_code": code,
            "response_desc": answer["ResponseDescription"].as_str().or(answer["errorMessage"].as_str()),
        }),
    }
}

/// base64(shortcode + passkey + timestamp).
pub fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

/// YYYYMMDDHHmmss in Nairobi (East Africa Time: UTC+3 all year).
pub fn nairobi_timestamp(at: SystemTime) -> String {
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 3 * 3600;
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

async fn read(response: reqwest::Response) -> Result<(reqwest::StatusCode, Value), Failure> {
    let status = response.status();
    let retry = retry_after(response.headers());
    let text = response.text().await.map_err(Failure::from_transport)?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let mut f = Failure::new(Class::Throttle, "Daraja asks to slow down");
        f.http_status = Some(status.as_u16());
        f.retry_after = retry;
        return Err(f);
    }
    Ok((status, body))
}

/// A refused call: 5xx is worth another try, anything else is not. The message is Daraja's
/// own (it names no credential).
fn failure(status: reqwest::StatusCode, body: &Value, what: &str) -> Failure {
    let class = if status.is_server_error() {
        Class::Transient
    } else {
        Class::Permanent
    };
    let detail = body["errorMessage"].as_str().unwrap_or("no reason given");
    let mut f = Failure::new(
        class,
        format!("{what} (HTTP {}): {detail}", status.as_u16()),
    );
    f.http_status = Some(status.as_u16());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Safaricom's published sandbox passkey for shortcode 174379 (a public test fixture).
    const SANDBOX_PASSKEY: &str =
        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

    fn call() -> MpesaCall {
        serde_json::from_value(json!({
            "environment": "sandbox", "consumer_key": "ck", "consumer_secret": "cs",
            "passkey": SANDBOX_PASSKEY, "callback_path": "kassangas/0123abcd", "shortcode": "174379",
            "transaction_type": "CustomerPayBillOnline", "party_b": "174379", "amount": 21000,
            "phone": "254708374149", "reference": "A1B2C3D4E5F6XYZ", "description": "Order A1B2C3D4E5F6",
            "checkout_request_id": null}))
        .unwrap()
    }

    #[test]
    fn the_timestamp_is_nairobi_time_three_hours_ahead_of_utc() {
        // 2026-12-31 22:30:05 UTC is already 2027-01-01 in Nairobi.
        let at = UNIX_EPOCH + Duration::from_secs(1_798_756_205);
        assert_eq!(nairobi_timestamp(at), "20270101013005");
        assert_eq!(nairobi_timestamp(UNIX_EPOCH), "19700101030000");
        // A leap day.
        assert_eq!(
            nairobi_timestamp(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
            "20240229030000"
        );
    }

    #[test]
    fn the_push_carries_every_field_with_one_timestamp_in_both_places() {
        let body = push_body(
            &call(),
            "254708374149",
            "20191219102115",
            "https://relay.example/mpesa",
        );
        assert_eq!(body["Timestamp"], "20191219102115");
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("174379{SANDBOX_PASSKEY}20191219102115"));
        assert_eq!(body["Password"], expected.as_str());
        assert_eq!(body["Amount"], json!(21000), "a whole number");
        assert_eq!(
            (&body["PartyA"], &body["PhoneNumber"]),
            (&json!("254708374149"), &json!("254708374149"))
        );
        assert_eq!(
            body["CallBackURL"],
            "https://relay.example/mpesa/kassangas/0123abcd"
        );
        assert_eq!(
            body["AccountReference"], "A1B2C3D4E5F6",
            "at most 12 characters"
        );
        assert_eq!(body["TransactionDesc"], "Order A1B2C3D");
        assert_eq!(body["TransactionType"], "CustomerPayBillOnline");
    }

    #[test]
    fn an_accepted_push_is_pending_and_a_refused_one_says_why() {
        let accepted = json!({"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_1",
                              "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing"});
        assert_eq!(
            push_outcome(&accepted),
            json!({"merchant_request_id": "29115-34620561-1", "checkout_request_id": "ws_CO_1"})
        );
        let refused = json!({"ResponseCode": "1", "ResponseDescription": "Rejected"});
        assert_eq!(
            push_outcome(&refused),
            json!({"response_code": "1", "response_desc": "Rejected"})
        );
    }

    #[test]
    fn refusals_are_final_and_server_errors_retried() {
        let body =
            json!({"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Timestamp"});
        let f = failure(
            reqwest::StatusCode::BAD_REQUEST,
            &body,
            "Daraja refused the push",
        );
        assert_eq!(f.class, Class::Permanent);
        assert!(f.message.contains("Invalid Timestamp"));
        assert_eq!(
            failure(reqwest::StatusCode::BAD_GATEWAY, &Value::Null, "x").class,
            Class::Transient
        );
    }

    /// A payment of a customer erased meanwhile has no phone: no request leaves the relay
    /// (the base URL is unreachable on purpose), and the failure is final.
    #[tokio::test]
    async fn no_push_without_a_phone() {
        let mpesa = Mpesa::new(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            Some("https://relay.example/mpesa"),
            Duration::from_secs(1),
        )
        .unwrap();
        let mut erased = call();
        erased.phone = None;
        let refused = mpesa.push(&erased).await.unwrap_err();
        assert_eq!(refused.class, Class::Permanent);
        assert!(refused.message.contains("no phone"), "{}", refused.message);
        assert!(
            mpesa.tokens.lock().unwrap().is_empty(),
            "no token was asked for"
        );
    }
}
