//! Reading Meta's webhook JSON (facts §2): scalar fields as SQL's `->>` reads them, and the
//! readable text of an inbound message of any type.
use pgrx::pg_sys;
use serde_json::Value;

/// A jsonb datum as serde JSON, or why it cannot be: serde_json stops at 128 levels of
/// nesting and at numbers beyond f64, both of which jsonb accepts.
pub fn parse_jsonb(datum: pg_sys::Datum) -> Result<Value, String> {
    // SAFETY: the caller passes a non-null jsonb datum; jsonb_out detoasts it.
    let text =
        unsafe { pgrx::direct_function_call::<&std::ffi::CStr>(pg_sys::jsonb_out, &[Some(datum)]) }
            .ok_or("jsonb_out returned NULL")?;
    let text = text.to_str().map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// A JSON value as text, like `->>`: strings as they are, other scalars as JSON, null as None.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The field of an object as text (None when absent, null, or `value` is not an object).
pub fn field(value: &Value, name: &str) -> Option<String> {
    text(value.get(name))
}

/// The value when it is an array, else an empty slice: Meta's optional arrays, walked safely.
pub fn array(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// What the customer wrote or chose, for every message type that has words (None otherwise):
/// the text, a button's or list row's title, a reaction's emoji, a place's name and address,
/// an order's note, a system notice; for media, its caption.
pub fn message_text(message: &Value) -> Option<String> {
    let at = |path: &[&str]| text(path.iter().try_fold(message, |v, key| v.get(key)));
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

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_of_message_yields_its_words() {
        let cases = [
            (json!({"type": "text", "text": {"body": "Hi"}}), Some("Hi")),
            (
                json!({"type": "button", "button": {"text": "Yes", "payload": "YES"}}),
                Some("Yes"),
            ),
            (
                json!({"type": "button", "button": {"payload": "YES"}}),
                Some("YES"),
            ),
            (
                json!({"type": "interactive", "interactive": {"list_reply": {"id": "1", "title": "Guitars"}}}),
                Some("Guitars"),
            ),
            (
                json!({"type": "interactive", "interactive": {"nfm_reply": {"body": "Sent"}}}),
                Some("Sent"),
            ),
            (
                json!({"type": "reaction", "reaction": {"emoji": "👍"}}),
                Some("👍"),
            ),
            (
                json!({"type": "location", "location": {"name": "Shop", "address": "Moi Ave"}}),
                Some("Shop, Moi Ave"),
            ),
            (
                json!({"type": "location", "location": {"address": "Moi Ave", "latitude": -1.28}}),
                Some("Moi Ave"),
            ),
            (
                json!({"type": "order", "order": {"text": "Two capos"}}),
                Some("Two capos"),
            ),
            (
                json!({"type": "system", "system": {"body": "User changed number"}}),
                Some("User changed number"),
            ),
            (
                json!({"type": "image", "image": {"caption": "This one?"}}),
                Some("This one?"),
            ),
            (json!({"type": "sticker", "sticker": {"id": "1"}}), None),
            (
                json!({"type": "unsupported", "errors": [{"code": 131051}]}),
                None,
            ),
            (json!({"id": "no type"}), None),
        ];
        for (message, expected) in cases {
            assert_eq!(message_text(&message).as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn scalars_read_like_sql_arrow_text() {
        let v = json!({"s": "x", "n": 12.5, "b": true, "z": null, "o": {"a": 1}});
        assert_eq!(field(&v, "s").as_deref(), Some("x"));
        assert_eq!(field(&v, "n").as_deref(), Some("12.5"));
        assert_eq!(field(&v, "b").as_deref(), Some("true"));
        assert_eq!(field(&v, "z"), None);
        assert_eq!(field(&v, "missing"), None);
        assert_eq!(field(&v, "o").as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(field(&json!([1]), "s"), None);
        assert!(array(v.get("s")).is_empty());
        assert_eq!(array(Some(&json!([1, 2]))).len(), 2);
    }
}
