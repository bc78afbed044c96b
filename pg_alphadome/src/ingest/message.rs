//! Reading Meta's webhook JSON (facts §2): scalar fields as SQL's `->>` reads them, and the
//! readable text of an inbound message of any type.
use crate::jsonb::Json;

/// The field of an object as text, like `->>` (None when absent, null, or not an object).
pub fn field(value: Json, name: &str) -> Option<String> {
    text_at(value, &[name])
}

/// The value at a path of object keys as text, like `#>>`.
fn text_at(value: Json, path: &[&str]) -> Option<String> {
    value.at(path).and_then(Json::text).map(String::from)
}

/// What the customer wrote or chose, for every message type that has words (None otherwise):
/// the text, a button's or list row's title, a reaction's emoji, a place's name and address,
/// an order's note, a system notice; for media, its caption.
pub fn message_text(message: Json) -> Option<String> {
    let at = |path: &[&str]| text_at(message, path);
    let kind = field(message, "type");
    match kind.as_deref() {
        Some("text") => at(&["text", "body"]),
        Some("button") => at(&["button", "text"]).or_else(|| at(&["button", "payload"])),
        Some("interactive") => at(&["interactive", "button_reply", "title"])
            .or_else(|| at(&["interactive", "list_reply", "title"]))
            .or_else(|| at(&["interactive", "nfm_reply", "body"])),
        Some("reaction") => at(&["reaction", "emoji"]),
        Some("location") => match (at(&["location", "name"]), at(&["location", "address"])) {
            (Some(name), Some(address)) => Some(format!("{name}, {address}")),
            (name, address) => name.or(address),
        },
        Some("order") => at(&["order", "text"]),
        Some("system") => at(&["system", "body"]),
        Some(other) => at(&[other, "caption"]),
        None => None,
    }
}

/// What the customer chose, as kept with the message (messages.choice): the kind of choice
/// (`button_reply` or `list_reply` of an interactive message, `button` of a template's quick
/// reply), the id the shop's message gave it (a quick reply's payload) and its title. None for
/// any other message, or a choice without an id. Later steps (a pay button, a campaign's reply)
/// act on the id, never on the title the customer's phone showed.
pub fn choice(message: Json) -> Option<serde_json::Value> {
    // Bounded: kept and shown, and a webhook may be hostile (Meta's ids are at most 256).
    let bounded =
        |value: Option<String>| value.filter(|v| !v.is_empty() && v.chars().count() <= 256);
    let (kind, id, title) = match field(message, "type")?.as_str() {
        "interactive" => {
            let interactive = message.get("interactive")?;
            let kind = ["button_reply", "list_reply"]
                .into_iter()
                .find(|k| interactive.get(k).is_some())?;
            let reply = interactive.get(kind)?;
            (kind, field(reply, "id"), field(reply, "title"))
        }
        "button" => {
            let button = message.get("button")?;
            ("button", field(button, "payload"), field(button, "text"))
        }
        _ => return None,
    };
    let mut choice = serde_json::json!({ "kind": kind, "id": bounded(id)? });
    if let Some(title) = bounded(title) {
        choice["title"] = title.into();
    }
    Some(choice)
}

/// Types whose message carries a media object (an id to fetch it by).
const MEDIA_TYPES: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

/// What the webhook says of a message's media, as kept with the message (never the bytes):
/// Meta's media id, mime type and sha256 (base64), whether an audio is a voice note, a
/// document's file name. None for a type without media or a media object without an id.
pub fn media(message: Json) -> Option<serde_json::Value> {
    let kind = field(message, "type")?;
    if !MEDIA_TYPES.contains(&kind.as_str()) {
        return None;
    }
    let object = message.get(&kind)?;
    // Bounded: these are kept and shown, and a webhook may be hostile.
    let bounded = |name: &str, max: usize| {
        field(object, name).filter(|v| !v.is_empty() && v.chars().count() <= max)
    };
    let id = bounded("id", 128)?;
    let mut media = serde_json::json!({ "id": id });
    for (name, max) in [("mime_type", 255), ("sha256", 128), ("filename", 255)] {
        if let Some(value) = bounded(name, max) {
            media[name] = value.into();
        }
    }
    if object.get("voice").and_then(Json::text).as_deref() == Some("true") {
        media["voice"] = true.into();
    }
    Some(media)
}

/// Why a message's sender cannot be taken as it is, or None. Meta's `from` is the customer's
/// WhatsApp id (digits), `from_user_id` a business-scoped id such as
/// `US.13491208655302741918`: anything else is refused, never made a customer.
pub fn sender_problem(wa_id: Option<&str>, user_id: Option<&str>) -> Option<&'static str> {
    let digits = |s: &str| (5..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let bsuid = |s: &str| {
        let mut parts = s.split('.');
        s.len() <= 128
            && parts
                .next()
                .is_some_and(|cc| cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()))
            && parts.clone().count() >= 1
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    if wa_id.is_some_and(|w| !digits(w)) {
        Some("from is not a WhatsApp id (5 to 20 digits)")
    } else if user_id.is_some_and(|u| !bsuid(u)) {
        Some("from_user_id is not a business-scoped user id")
    } else {
        None
    }
}

/// Whether a message id (wamid) can be kept: not blank, at most 512 characters, no control
/// characters.
pub fn is_message_id(wamid: &str) -> bool {
    !wamid.trim().is_empty() && wamid.len() <= 512 && !wamid.chars().any(char::is_control)
}

#[cfg(test)]
mod unit {
    use super::{is_message_id, sender_problem};

    // media() reads jsonb in place: tested in-database (src/tests/media.rs).

    #[test]
    fn meta_senders_pass_and_strangers_do_not() {
        assert_eq!(sender_problem(Some("254711000001"), None), None);
        assert_eq!(sender_problem(None, Some("US.13491208655302741918")), None);
        assert_eq!(
            sender_problem(None, Some("US.ENT.11815799212886844830")),
            None
        );
        for bad in [
            "abc",
            "' OR 1=1 --",
            "",
            "{\"a\":1}",
            "1234",
            "254 711 000 001",
            &"9".repeat(21),
        ] {
            assert!(sender_problem(Some(bad), None).is_some(), "{bad}");
        }
        for bad in [
            "US",
            "us.123",
            "US..1",
            "US.1 2",
            &format!("US.{}", "1".repeat(130)),
        ] {
            assert!(sender_problem(None, Some(bad)).is_some(), "{bad}");
        }
    }

    #[test]
    fn message_ids_are_kept_unless_blank_huge_or_with_control_characters() {
        assert!(is_message_id(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
        ));
        assert!(!is_message_id(" "));
        assert!(!is_message_id("wamid\u{0}x"));
        assert!(!is_message_id(&"w".repeat(513)));
    }
}
