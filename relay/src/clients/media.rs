//! A customer's media, fetched from Meta for the one job that needs it and never kept: its URL
//! from `GET /{media-id}` with the tenant's token, then the bytes from that URL with the same
//! token. Refused before the download completes when its type is not one the job can use or it
//! is larger than the job's limit (Meta's answer says both; the download is counted too).
use super::meta::Meta;
use super::{Class, Failure};
use crate::contract::{Media, WhatsApp};
use base64::Engine;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What a job does with the media: its limit and the types it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A voice note for the transcription endpoint (which takes ogg, mp3 and m4a among
    /// WhatsApp's audio types; not aac or amr).
    Transcription,
    /// A photo for the LLM (jpeg, png, webp).
    Image,
}

impl Purpose {
    /// The largest file taken: Meta's own limits for audio and images.
    pub fn limit(self) -> u64 {
        match self {
            Purpose::Transcription => 16 * 1024 * 1024,
            Purpose::Image => 5 * 1024 * 1024,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Purpose::Transcription => "voice note",
            Purpose::Image => "photo",
        }
    }

    /// The file name extension for a mime type this purpose takes (None: not taken).
    pub fn extension(self, mime_type: &str) -> Option<&'static str> {
        let base = mime_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let taken: &[(&str, &str)] = match self {
            Purpose::Transcription => &[
                ("audio/ogg", "ogg"),
                ("audio/opus", "ogg"),
                ("audio/mpeg", "mp3"),
                ("audio/mp4", "m4a"),
            ],
            Purpose::Image => &[
                ("image/jpeg", "jpg"),
                ("image/png", "png"),
                ("image/webp", "webp"),
            ],
        };
        taken
            .iter()
            .find(|(mime, _)| *mime == base)
            .map(|(_, ext)| *ext)
    }
}

/// Fetched bytes, for one call, with what is kept of them.
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The mime type without parameters ("audio/ogg").
    pub mime_type: String,
    pub extension: &'static str,
    /// Whether the bytes' sha256 is the one the webhook gave (None: it gave none).
    pub sha256_matched: Option<bool>,
}

impl Fetched {
    /// What the database keeps with the message: never the bytes.
    pub fn facts(&self) -> Value {
        json!({"size": self.bytes.len(), "fetched_mime_type": self.mime_type, "sha256_matched": self.sha256_matched})
    }
}

fn refused(message: String) -> Failure {
    Failure::new(Class::Permanent, message)
}

/// Does a sha256 given by Meta (base64 in webhooks, hex elsewhere) name these bytes?
pub fn sha256_matches(given: &str, digest: &[u8]) -> bool {
    let given = given.trim();
    let base64 = base64::engine::general_purpose::STANDARD.encode(digest);
    given == base64 || given.eq_ignore_ascii_case(&hex::encode(digest))
}

/// Media URLs may only take the token where Meta sends it: https, or the Graph API's own
/// origin (a local test server).
fn trusted(url: &Url, graph: &Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == graph.scheme()
            && url.host_str() == graph.host_str()
            && url.port_or_known_default() == graph.port_or_known_default())
}

impl Meta {
    /// The media's bytes, checked against `purpose`.
    pub async fn fetch_media(
        &self,
        whatsapp: &WhatsApp,
        media: &Media,
        purpose: Purpose,
    ) -> Result<Fetched, Failure> {
        let noun = purpose.noun();
        let token = whatsapp.access_token.expose();
        // The webhook's type first: a type the job cannot use is not even looked up.
        if let Some(given) = &media.mime_type {
            if purpose.extension(given).is_none() {
                return Err(refused(format!("a {noun} of type {given} cannot be used")));
            }
        }
        let lookup = self
            .media_url(&media.id, &whatsapp.phone_number_id, token)
            .await?;
        let mime_type = lookup["mime_type"]
            .as_str()
            .or(media.mime_type.as_deref())
            .unwrap_or("");
        let Some(extension) = purpose.extension(mime_type) else {
            return Err(refused(format!(
                "a {noun} of type {mime_type:?} cannot be used"
            )));
        };
        let announced = match &lookup["file_size"] {
            Value::String(s) => s.trim().parse::<u64>().ok(),
            other => other.as_u64(),
        };
        if let Some(size) = announced.filter(|size| *size > purpose.limit()) {
            return Err(refused(format!(
                "the {noun} is {size} bytes, over the {} MB limit",
                purpose.limit() >> 20
            )));
        }
        let url = lookup["url"]
            .as_str()
            .and_then(|u| Url::parse(u).ok())
            .ok_or_else(|| {
                Failure::new(Class::Transient, "Meta's media answer has no usable url")
            })?;
        if !trusted(&url, self.base_url()) {
            return Err(refused(format!(
                "Meta's media url is not https: the {noun} was not fetched"
            )));
        }
        let bytes = self.download(url, token, purpose).await?;
        let digest = Sha256::digest(&bytes);
        let sha256_matched = media
            .sha256
            .as_deref()
            .map(|given| sha256_matches(given, &digest));
        if sha256_matched == Some(false) {
            return Err(refused(format!(
                "the {noun}'s bytes do not match the sha256 of the webhook"
            )));
        }
        Ok(Fetched {
            bytes,
            mime_type: mime_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
            extension,
            sha256_matched,
        })
    }

    /// `GET /{media-id}?phone_number_id=...`: the media's url, mime_type, sha256, file_size.
    async fn media_url(
        &self,
        media_id: &str,
        phone_number_id: &str,
        token: &str,
    ) -> Result<Value, Failure> {
        let mut url = self.base_url().clone();
        url.path_segments_mut()
            .map_err(|_| refused("META_GRAPH_URL cannot take a path".into()))?
            .push(media_id);
        url.query_pairs_mut()
            .append_pair("phone_number_id", phone_number_id);
        let response = self
            .http()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let status = response.status();
        let text = response.text().await.map_err(Failure::from_transport)?;
        if !status.is_success() {
            return Err(super::meta::classify(status, &text));
        }
        serde_json::from_str(&text).map_err(|_| {
            Failure::new(
                Class::Transient,
                "Meta answered with a body that is not JSON",
            )
        })
    }

    /// The bytes at a media url, counted as they come: over the limit, the download stops.
    async fn download(&self, url: Url, token: &str, purpose: Purpose) -> Result<Vec<u8>, Failure> {
        let noun = purpose.noun();
        let limit = purpose.limit();
        let mut response = self
            .http()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(Failure::from_transport)?;
        let status = response.status();
        if !status.is_success() {
            // The url lives five minutes: a new attempt asks Meta for a new one.
            if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
                return Err(Failure::new(
                    Class::Transient,
                    format!("the {noun}'s url answered {status}"),
                ));
            }
            let text = response.text().await.unwrap_or_default();
            return Err(super::meta::classify(status, &text));
        }
        if let Some(length) = response.content_length().filter(|n| *n > limit) {
            return Err(refused(format!(
                "the {noun} is {length} bytes, over the {} MB limit",
                limit >> 20
            )));
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::from_transport)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(refused(format!(
                    "the {noun} is over the {} MB limit: the download was stopped",
                    limit >> 20
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_takes_its_types_only() {
        assert_eq!(
            Purpose::Transcription.extension("audio/ogg; codecs=opus"),
            Some("ogg")
        );
        assert_eq!(Purpose::Transcription.extension("Audio/MPEG"), Some("mp3"));
        assert_eq!(
            Purpose::Transcription.extension("audio/amr"),
            None,
            "the endpoint does not take amr"
        );
        assert_eq!(Purpose::Transcription.extension("image/jpeg"), None);
        assert_eq!(Purpose::Image.extension("image/png"), Some("png"));
        assert_eq!(Purpose::Image.extension("application/pdf"), None);
        assert_eq!(Purpose::Image.limit(), 5 << 20);
        assert_eq!(Purpose::Transcription.limit(), 16 << 20);
    }

    #[test]
    fn a_sha256_matches_in_base64_or_hex() {
        let digest = Sha256::digest(b"voice");
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(sha256_matches(&b64, &digest));
        assert!(sha256_matches(&hex::encode(digest).to_uppercase(), &digest));
        assert!(!sha256_matches(
            "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=",
            &digest
        ));
    }

    #[test]
    fn the_token_goes_only_to_https_or_the_graph_apis_own_origin() {
        let graph = Url::parse("http://127.0.0.1:4000/v23.0").unwrap();
        let ok = |u: &str| trusted(&Url::parse(u).unwrap(), &graph);
        assert!(ok(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
        ));
        assert!(ok("http://127.0.0.1:4000/media/1"));
        assert!(!ok("http://127.0.0.1:4001/media/1"));
        assert!(!ok("http://evil.example/media/1"));
        assert!(!ok("ftp://127.0.0.1:4000/x"));
    }
}
