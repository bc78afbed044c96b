//! An OpenAI-compatible endpoint: chat completions (with a photo when there is one) and audio
//! transcriptions.
use super::media::Fetched;
use super::{retry_after, Class, Failure};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
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

    /// POSTs the assembled request body; returns the answer's text ("" when it has none) and
    /// the `usage` the endpoint reported (tokens; null when it reported none), for metering.
    pub async fn complete(
        &self,
        base_url: &str,
        api_key: Option<&str>,
        request: &Value,
    ) -> Result<(String, Value), Failure> {
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let answer = self
            .call(self.http.post(url).json(request), api_key)
            .await?;
        let content = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string();
        Ok((content, answer["usage"].clone()))
    }

    /// POSTs the audio to /audio/transcriptions (multipart: the file, the model, JSON out);
    /// returns its text.
    pub async fn transcribe(
        &self,
        base_url: &str,
        api_key: Option<&str>,
        model: &str,
        audio: &Fetched,
    ) -> Result<String, Failure> {
        let url = format!("{}/audio/transcriptions", base_url.trim_end_matches('/'));
        let file = reqwest::multipart::Part::bytes(audio.bytes.clone())
            .file_name(format!("voice-note.{}", audio.extension))
            .mime_str(&audio.mime_type)
            .map_err(|_| Failure::new(Class::Permanent, "the voice note's mime type is not one"))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", model.to_string())
            .text("response_format", "json");
        let answer = self
            .call(self.http.post(url).multipart(form), api_key)
            .await?;
        answer["text"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Failure::new(Class::Transient, "the transcription answer has no text"))
    }

    /// POSTs texts to /embeddings; returns their vectors in the order given and the `usage`
    /// the endpoint reported.
    pub async fn embed(
        &self,
        base_url: &str,
        api_key: Option<&str>,
        model: &str,
        texts: &[&str],
    ) -> Result<(Vec<Vec<f32>>, Value), Failure> {
        let url = format!("{}/embeddings", base_url.trim_end_matches('/'));
        let request = json!({"model": model, "input": texts, "encoding_format": "float"});
        let answer = self
            .call(self.http.post(url).json(&request), api_key)
            .await?;
        let vectors = embeddings_in_order(&answer, texts.len()).ok_or_else(|| {
            Failure::new(
                Class::Transient,
                "the embeddings answer does not have one vector per text",
            )
        })?;
        Ok((vectors, answer["usage"].clone()))
    }

    async fn call(
        &self,
        call: reqwest::RequestBuilder,
        api_key: Option<&str>,
    ) -> Result<Value, Failure> {
        let call = match api_key.filter(|k| !k.is_empty()) {
            Some(key) => call.bearer_auth(key),
            None => call,
        };
        let response = call.send().await.map_err(Failure::from_transport)?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let text = response.text().await.map_err(Failure::from_transport)?;
        if !status.is_success() {
            let mut failure = classify(status, &text);
            failure.retry_after = wait;
            return Err(failure);
        }
        serde_json::from_str(&text).map_err(|_| {
            Failure::new(
                Class::Transient,
                "the LLM answered with a body that is not JSON",
            )
        })
    }
}

/// An embeddings answer's vectors by their `index` (an endpoint may answer out of order); None
/// unless every text has one non-empty vector of numbers.
fn embeddings_in_order(answer: &Value, texts: usize) -> Option<Vec<Vec<f32>>> {
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts];
    for item in answer["data"].as_array()? {
        let at = usize::try_from(item["index"].as_u64()?).ok()?;
        let vector: Vec<f32> = item["embedding"]
            .as_array()?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<_>>()?;
        if vector.is_empty() {
            return None;
        }
        *vectors.get_mut(at)? = Some(vector);
    }
    vectors.into_iter().collect()
}

/// The request with the photo added to the customer's message (the last one, `user`): its
/// words, if any, then the image as a data URL.
pub fn with_image(request: &Value, image: &Fetched) -> Value {
    let mut request = request.clone();
    let data_url = format!(
        "data:{};base64,{}",
        image.mime_type,
        base64::engine::general_purpose::STANDARD.encode(&image.bytes)
    );
    if let Some(last) = request["messages"]
        .as_array_mut()
        .and_then(|m| m.last_mut())
        .filter(|m| m["role"] == "user")
    {
        let words = last["content"].as_str().unwrap_or("").trim().to_string();
        let mut parts = Vec::new();
        if !words.is_empty() {
            parts.push(json!({"type": "text", "text": words}));
        }
        parts.push(json!({"type": "image_url", "image_url": {"url": data_url}}));
        last["content"] = Value::Array(parts);
    }
    request
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
    fn embeddings_are_read_by_their_index_and_refused_when_one_is_missing() {
        let answer = json!({"data": [
            {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.5]}
        ]});
        assert_eq!(
            embeddings_in_order(&answer, 2),
            Some(vec![vec![1.0, 0.5], vec![0.0, 1.0]])
        );
        assert_eq!(embeddings_in_order(&answer, 3), None, "one text has none");
        let bad = json!({"data": [{"index": 0, "embedding": ["x"]}]});
        assert_eq!(embeddings_in_order(&bad, 1), None);
        let empty = json!({"data": [{"index": 0, "embedding": []}]});
        assert_eq!(embeddings_in_order(&empty, 1), None);
        assert_eq!(embeddings_in_order(&json!({}), 1), None);
    }

    #[test]
    fn a_photo_joins_the_customers_message_as_a_data_url() {
        let request = json!({"model": "m", "messages": [
            {"role": "system", "content": "You are a shop."},
            {"role": "user", "content": ""}]});
        let photo = Fetched {
            bytes: vec![1, 2, 3],
            mime_type: "image/png".into(),
            extension: "png",
            sha256_matched: None,
        };
        let seen = with_image(&request, &photo);
        assert_eq!(
            seen["messages"][0], request["messages"][0],
            "the system prompt is untouched"
        );
        assert_eq!(
            seen["messages"][1]["content"],
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AQID"}}])
        );
        let asked = json!({"messages": [{"role": "user", "content": "Is this one in stock?"}]});
        let parts = &with_image(&asked, &photo)["messages"][0]["content"];
        assert_eq!(
            parts[0],
            json!({"type": "text", "text": "Is this one in stock?"})
        );
    }

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
