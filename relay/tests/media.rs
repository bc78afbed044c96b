//! Customers who do not type, end to end through the relay: buttons, captions, voice notes,
//! photos, places, cards, orders, stickers. The mock Graph API serves the media and checks its
//! retrieval and download against Meta's spec; the mock LLM checks transcriptions (multipart)
//! and chat requests with an image against OpenAI's.
mod common;

use alphadome_e2e::mock::{Recorded, Served};
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CUSTOMER: &str = "254711000001";
/// Every test media file starts with this: the logs are searched for it (and its base64).
const MARKER: &[u8] = b"MEDIA-test-bytes ";
const LOCATION_REPLY: &str = "Thanks for sharing your location! Kassangas Music Shop is on Moi Avenue, Nairobi CBD; tell us what you are looking for and we will help.";

fn post_message(d: &Deployment, wamid: &str, message: Value) {
    let (status, _) = d.post(
        message_webhook(KASSANGAS_NUMBER, CUSTOMER, wamid, message)
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200);
}

/// Bytes of a test media file of `size` bytes.
fn media_bytes(size: usize) -> Vec<u8> {
    let mut bytes = MARKER.to_vec();
    bytes.resize(size.max(MARKER.len()), b'x');
    bytes
}

fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn no_violations(requests: &[Recorded]) {
    for r in requests {
        assert!(
            r.violations.is_empty(),
            "{} {}: {:?}",
            r.method,
            r.path,
            r.violations
        );
    }
}

fn sent_texts(d: &Deployment) -> Vec<String> {
    d.meta
        .sends()
        .iter()
        .map(|r| r.body["text"]["body"].as_str().unwrap_or("").to_string())
        .collect()
}

/// (decision, transcript, media) of a message, once its decision is final.
fn recorded(d: &Deployment, wamid: &str) -> (String, Option<String>, Option<Value>) {
    let row = d
        .db()
        .query_one(
            "SELECT decision::text, transcript, media FROM alphadome.messages WHERE wamid = $1",
            &[&wamid],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

fn settle(d: &Deployment, sends: usize) {
    d.meta.wait_until(LONG, "the replies", |r| {
        r.iter()
            .filter(|r| r.method == "POST" && r.body.get("status").is_none())
            .count()
            >= sends
    });
    d.wait_until_idle(LONG);
}

#[test]
fn buttons_and_list_rows_are_answered_from_the_words_they_carry() {
    let d = Deployment::start(&[]);
    post_message(
        &d,
        "wamid.button",
        json!({"type": "interactive", "interactive": {"type": "button_reply",
        "button_reply": {"id": "hours", "title": "Opening hours"}}}),
    );
    post_message(
        &d,
        "wamid.list",
        json!({"type": "interactive", "interactive": {"type": "list_reply",
        "list_reply": {"id": "where", "title": "Where are you located?", "description": "Directions"}}}),
    );
    post_message(
        &d,
        "wamid.quick",
        json!({"type": "button", "button": {"payload": "PAY", "text": "How do I pay?"}}),
    );
    settle(&d, 3);
    let sent = sent_texts(&d);
    assert!(sent.contains(&OPENING_HOURS_ANSWER.to_string()), "{sent:?}");
    assert!(sent.iter().any(|t| t.contains("Moi Avenue")), "{sent:?}");
    assert!(
        sent.iter().any(|t| t.starts_with("You can pay by M-Pesa")),
        "{sent:?}"
    );
    assert!(d.llm.requests().is_empty(), "the FAQ answered: no LLM call");
    no_violations(&d.meta.requests());
}

#[test]
fn a_caption_is_the_question_of_a_photo_a_video_and_a_document() {
    let d = Deployment::start(&[]);
    post_message(
        &d,
        "wamid.photo",
        json!({"type": "image", "image": {"caption": "Mnafungua saa ngapi?",
        "mime_type": "image/jpeg", "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "8001"}}),
    );
    post_message(
        &d,
        "wamid.video",
        json!({"type": "video", "video": {"caption": "Do you deliver to Kisumu?",
        "mime_type": "video/mp4", "sha256": "Jh+2ij6PzUv", "id": "8002"}}),
    );
    post_message(
        &d,
        "wamid.doc",
        json!({"type": "document", "document": {"caption": "How do I pay?",
        "filename": "quote.pdf", "mime_type": "application/pdf", "sha256": "grwfwe", "id": "8003"}}),
    );
    settle(&d, 3);
    let sent = sent_texts(&d);
    // The photo's caption asks in Swahili: the hours in Swahili.
    assert!(
        sent.contains(&OPENING_HOURS_ANSWER_SW.to_string()),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|t| t.starts_with("We deliver within Nairobi")),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|t| t.starts_with("You can pay by M-Pesa")),
        "{sent:?}"
    );
    assert!(
        d.meta.requests().iter().all(|r| r.method == "POST"),
        "a caption needs no download"
    );
    assert_eq!(
        recorded(&d, "wamid.doc").2.unwrap()["filename"],
        "quote.pdf"
    );
}

#[test]
fn a_voice_note_becomes_a_transcript_and_an_faq_answer_without_a_chat_call() {
    let d = Deployment::start(&[]);
    let voice = media_bytes(5210);
    d.meta.serve_media("9001", &voice, "audio/ogg; codecs=opus");
    d.llm.push(200, json!({"text": "Mnafungua saa ngapi?"}));
    post_message(
        &d,
        "wamid.voice",
        json!({"type": "audio", "audio": {"mime_type": "audio/ogg; codecs=opus",
        "sha256": sha256_base64(&voice), "id": "9001", "voice": true}}),
    );
    settle(&d, 1);
    // Asked in Swahili: the hours in Swahili.
    assert_eq!(sent_texts(&d), [OPENING_HOURS_ANSWER_SW]);
    // Meta: the url, then the bytes, both with the tenant's token and as the spec says.
    let gets: Vec<Recorded> = d
        .meta
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[0].path.ends_with("/v23.0/9001"));
    assert_eq!(
        gets[0].query,
        [("phone_number_id".to_string(), KASSANGAS_NUMBER.to_string())]
    );
    assert!(gets[1].path.contains("/media-download/9001"));
    for get in &gets {
        assert_eq!(
            get.authorization.as_deref(),
            Some(format!("Bearer {KASSANGAS_TOKEN}").as_str())
        );
    }
    no_violations(&d.meta.requests());
    // The LLM: one transcription, no chat completion.
    let llm = d.llm.requests();
    assert_eq!(llm.len(), 1, "{llm:?}");
    assert!(llm[0].path.ends_with("/v1/audio/transcriptions"));
    no_violations(&llm);
    assert_eq!(llm[0].body["model"], "whisper-1");
    let (file_name, content_type, bytes) = llm[0].upload.clone().unwrap();
    assert_eq!(
        (file_name.as_str(), content_type.as_str()),
        ("voice-note.ogg", "audio/ogg")
    );
    assert_eq!(bytes, voice);
    let (decision, transcript, media) = recorded(&d, "wamid.voice");
    assert_eq!(
        (decision.as_str(), transcript.as_deref()),
        ("faq", Some("Mnafungua saa ngapi?"))
    );
    let media = media.unwrap();
    assert_eq!(
        (media["size"].clone(), media["sha256_matched"].clone()),
        (json!(5210), json!(true))
    );
    assert_no_media_in_logs(&d);
}

#[test]
fn a_photo_without_a_caption_reaches_the_llm_as_an_image_when_the_shop_allows_it() {
    let d = Deployment::start(&[]);
    d.db()
        .batch_execute(
            "UPDATE alphadome.bot_control_settings SET enable_media_understanding = true",
        )
        .unwrap();
    let photo = media_bytes(2048);
    d.meta.serve_media("7001", &photo, "image/jpeg");
    post_message(
        &d,
        "wamid.look",
        json!({"type": "image", "image": {"mime_type": "image/jpeg",
        "sha256": sha256_base64(&photo), "id": "7001"}}),
    );
    settle(&d, 1);
    let chat = d.llm.requests();
    assert_eq!(chat.len(), 1);
    no_violations(&chat);
    let content = chat[0].body["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    let expected_url = format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&photo)
    );
    assert_eq!(
        content,
        json!([{"type": "image_url", "image_url": {"url": expected_url}}])
    );
    assert_eq!(sent_texts(&d), ["Our violins start at KES 15,000."]);
    assert_eq!(recorded(&d, "wamid.look").2.unwrap()["size"], 2048);
    assert_no_media_in_logs(&d);
}

#[test]
fn places_cards_orders_and_the_unsupported_get_their_reply_and_stickers_and_reactions_none() {
    let d = Deployment::start(&[]);
    post_message(
        &d,
        "wamid.pin",
        json!({"type": "location", "location": {"latitude": -1.2841, "longitude": 36.8233,
        "name": "Hilton", "address": "Mama Ngina St"}}),
    );
    post_message(
        &d,
        "wamid.card",
        json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Wanjiku"},
        "phones": [{"phone": "+254 722 000 111", "wa_id": "254722000111"}]}]}),
    );
    post_message(
        &d,
        "wamid.order",
        json!({"type": "order", "order": {"catalog_id": "194836987003835", "text": "",
        "product_items": [{"product_retailer_id": "yamaha-p45", "quantity": 1, "item_price": 65000, "currency": "KES"}]}}),
    );
    post_message(
        &d,
        "wamid.odd",
        json!({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]}),
    );
    post_message(
        &d,
        "wamid.sticker",
        json!({"type": "sticker", "sticker": {"mime_type": "image/webp", "sha256": "x", "id": "6001", "animated": false}}),
    );
    post_message(
        &d,
        "wamid.react",
        json!({"type": "reaction", "reaction": {"message_id": "wamid.pin", "emoji": "👍"}}),
    );
    settle(&d, 4);
    let sent = sent_texts(&d);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent.contains(&LOCATION_REPLY.to_string()), "{sent:?}");
    assert!(
        sent.iter()
            .any(|t| t.starts_with("Thanks for the contact!")),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|t| t.starts_with("Thank you for your order!")),
        "{sent:?}"
    );
    let decisions: Vec<String> = [
        "wamid.pin",
        "wamid.card",
        "wamid.order",
        "wamid.odd",
        "wamid.sticker",
        "wamid.react",
    ]
    .iter()
    .map(|w| recorded(&d, w).0)
    .collect();
    assert_eq!(
        decisions,
        [
            "type_reply",
            "type_reply",
            "type_reply",
            "fallback",
            "recorded",
            "recorded"
        ]
    );
    assert!(d.llm.requests().is_empty());
}

#[test]
fn media_over_its_limit_or_of_a_type_the_job_cannot_use_is_refused_before_the_download_completes() {
    let d = Deployment::start(&[]);
    d.db()
        .batch_execute(
            "UPDATE alphadome.bot_control_settings SET enable_media_understanding = true",
        )
        .unwrap();
    // A GIF the webhook names: refused before Meta is even asked.
    post_message(
        &d,
        "wamid.gif",
        json!({"type": "image", "image": {"mime_type": "image/gif", "sha256": "x", "id": "5001"}}),
    );
    // A photo Meta says is 6 MB: its url is looked up, the bytes never asked for.
    d.meta.serve(
        "5002",
        Served {
            bytes: media_bytes(100),
            mime_type: "image/jpeg".into(),
            file_size: 6 << 20,
            chunked: false,
        },
    );
    post_message(
        &d,
        "wamid.big",
        json!({"type": "image", "image": {"mime_type": "image/jpeg", "id": "5002"}}),
    );
    // Voice notes Meta says are small but are 17 MB: refused by the download's Content-Length,
    // or, sent without one, stopped at the limit.
    let big = media_bytes(17 << 20);
    for (id, wamid, chunked) in [("5003", "wamid.liar", true), ("5006", "wamid.long", false)] {
        let served = Served {
            bytes: big.clone(),
            mime_type: "audio/ogg".into(),
            file_size: 1000,
            chunked,
        };
        d.meta.serve(id, served);
        post_message(
            &d,
            wamid,
            json!({"type": "audio", "audio": {"mime_type": "audio/ogg", "id": id, "voice": true}}),
        );
    }
    // A voice note Meta says is a PDF.
    d.meta
        .serve_media("5004", &media_bytes(100), "application/pdf");
    post_message(
        &d,
        "wamid.pdf",
        json!({"type": "audio", "audio": {"mime_type": "audio/ogg", "id": "5004"}}),
    );
    // A voice note whose bytes are not the ones the webhook's sha256 names.
    d.meta.serve_media("5005", &media_bytes(100), "audio/ogg");
    post_message(
        &d,
        "wamid.forged",
        json!({"type": "audio", "audio": {"mime_type": "audio/ogg", "id": "5005",
        "sha256": sha256_base64(b"something else")}}),
    );
    settle(&d, 6);
    let fallback = "Thanks for your message! A member of our team will get back to you shortly.";
    assert_eq!(
        sent_texts(&d),
        [fallback; 6],
        "each customer gets the fallback"
    );
    let gets = |id: &str| -> Vec<String> {
        d.meta
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(id))
            .map(|r| r.path.clone())
            .collect()
    };
    assert!(gets("5001").is_empty(), "the GIF was not looked up");
    assert_eq!(
        gets("5002").len(),
        1,
        "the 6 MB photo: looked up, not downloaded"
    );
    assert_eq!(gets("5004").len(), 1, "the PDF: looked up, not downloaded");
    assert_eq!(gets("5003").len(), 2);
    no_violations(&d.meta.requests());
    let error = |wamid: &str| -> String {
        let (decision, _, media) = recorded(&d, wamid);
        assert_eq!(decision, "fallback", "{wamid}");
        media.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        error("wamid.gif"),
        "a photo of type image/gif cannot be used"
    );
    assert_eq!(
        error("wamid.big"),
        "the photo is 6291456 bytes, over the 5 MB limit"
    );
    assert_eq!(
        error("wamid.liar"),
        "the voice note is over the 16 MB limit: the download was stopped"
    );
    assert_eq!(
        error("wamid.long"),
        "the voice note is 17825792 bytes, over the 16 MB limit"
    );
    assert_eq!(
        error("wamid.pdf"),
        "a voice note of type \"application/pdf\" cannot be used"
    );
    assert_eq!(
        error("wamid.forged"),
        "the voice note's bytes do not match the sha256 of the webhook"
    );
    assert!(
        d.llm.requests().is_empty(),
        "nothing refused reached the LLM"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.alerts WHERE kind = 'media_failed'"),
        6
    );
    assert_no_media_in_logs(&d);
}

#[test]
fn a_transcription_the_endpoint_refuses_answers_with_the_fallback() {
    let d = Deployment::start(&[]);
    let voice = media_bytes(300);
    d.meta.serve_media("4001", &voice, "audio/ogg");
    d.llm.push(400, json!({"error": {"message": "Audio file might be corrupted or unsupported", "type": "invalid_request_error",
                                     "param": "file", "code": "invalid_value"}}));
    post_message(
        &d,
        "wamid.noise",
        json!({"type": "audio", "audio": {"mime_type": "audio/ogg", "id": "4001", "voice": true}}),
    );
    settle(&d, 1);
    assert_eq!(
        sent_texts(&d),
        ["Thanks for your message! A member of our team will get back to you shortly."]
    );
    let (decision, transcript, media) = recorded(&d, "wamid.noise");
    assert_eq!((decision.as_str(), transcript), ("fallback", None));
    assert!(media.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Audio file might be corrupted"));
    assert_no_media_in_logs(&d);
}

/// No media bytes (nor their base64), token or key in the relay's log or the server's.
fn assert_no_media_in_logs(d: &Deployment) {
    d.assert_no_secret_in_logs();
    let marker = std::str::from_utf8(MARKER).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&MARKER[..15]);
    for log in [d.relay.log_text(), d.cluster.server_log()] {
        assert!(
            !log.contains(marker) && !log.contains(&encoded),
            "media bytes are in a log"
        );
    }
}
