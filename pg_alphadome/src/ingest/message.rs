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
