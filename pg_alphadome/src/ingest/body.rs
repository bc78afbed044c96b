//! A webhook body as text, before it becomes jsonb. jsonb refuses two things JSON allows: the
//! escape \u0000 (text cannot hold it), and nesting deeper than the server's stack. Meta signs
//! what it sends, so such a body must not be answered with an error it would retry for a week:
//! a body nested deeper than any webhook is not one (22023); \u0000 is written as U+FFFD, and
//! the messages that held it are refused by ingest, their neighbours recorded as usual.
use serde_json::Value;

/// Deeper than any of Meta's payloads (about ten levels) by far.
pub const MAX_DEPTH: usize = 64;

/// What a scan of the text found: its deepest nesting and its \u0000 escapes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub depth: usize,
    pub nul_escapes: usize,
}

/// One pass over the text, without parsing it: brackets outside strings, escapes inside.
pub fn scan(body: &str) -> Scan {
    let bytes = body.as_bytes();
    let (mut depth, mut scan, mut in_string, mut i) = (0usize, Scan::default(), false, 0);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (true, b'\\') => {
                if bytes[i + 1..].starts_with(b"u0000") {
                    scan.nul_escapes += 1;
                }
                i += 1; // the escaped character is not a quote or a backslash of its own
            }
            (_, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => {
                depth += 1;
                scan.depth = scan.depth.max(depth);
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    scan
}

/// The text with every \u0000 escape written \ufffd (the replacement character): valid JSON
/// stays valid, and nothing else changes.
pub fn without_nul(body: &str) -> String {
    let bytes = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let (mut in_string, mut start, mut i) = (false, 0, 0);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (true, b'\\') => {
                if bytes[i + 1..].starts_with(b"u0000") {
                    out.push_str(&body[start..i]);
                    out.push_str("\\ufffd");
                    start = i + 6;
                }
                i += 1;
            }
            (_, b'"') => in_string = !in_string,
            _ => {}
        }
        i += 1;
    }
    out.push_str(&body[start..]);
    out
}

/// The messages (entry, change, index) that hold a \u0000 anywhere, read from the original
/// text (serde keeps \u0000; the depth was checked first). None when it is not JSON.
pub fn messages_with_nul(body: &str) -> Option<Vec<[usize; 3]>> {
    let value: Value = serde_json::from_str(body).ok()?;
    let list = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for (e, entry) in list(&value, "entry").iter().enumerate() {
        for (c, change) in list(entry, "changes").iter().enumerate() {
            let messages = change
                .get("value")
                .map(|v| list(v, "messages"))
                .unwrap_or_default();
            for (m, message) in messages.iter().enumerate() {
                if holds_nul(message) {
                    found.push([e, c, m]);
                }
            }
        }
    }
    Some(found)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members
            .iter()
            .any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert_eq!(scan(r#"{"a": [1, {"b": "[[[{"}]}"#).depth, 3);
        assert_eq!(
            scan(&format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))).depth,
            10_000
        );
        assert_eq!(
            scan(r#""\"[""#).depth,
            0,
            "an escaped quote does not end the string"
        );
    }

    #[test]
    fn nul_escapes_are_found_and_rewritten_but_an_escaped_backslash_is_not_one() {
        let body = r#"{"a": "x\u0000y", "b": "\\u0000", "c": "\\\u0000"}"#;
        assert_eq!(scan(body).nul_escapes, 2);
        assert_eq!(
            without_nul(body),
            r#"{"a": "x\ufffdy", "b": "\\u0000", "c": "\\\ufffd"}"#
        );
        let clean = r#"{"a": "no \u0001 nul"}"#;
        assert_eq!(without_nul(clean), clean);
    }

    #[test]
    fn the_messages_holding_nul_are_named_by_position() {
        let body = r#"{"entry": [{"changes": [{"value": {"messages": [
            {"id": "good", "text": {"body": "hi"}},
            {"id": "bad", "text": {"body": "h\u0000i"}}]}}]}]}"#;
        assert_eq!(messages_with_nul(body), Some(vec![[0, 0, 1]]));
        assert_eq!(messages_with_nul("{not json"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(Value::from),
                "[a-z\\\\\"\\u{0}\\u{202e}é]{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(6, 48, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z\\u{0}]{1,3}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn depth(v: &Value) -> usize {
            match v {
                Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
                Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
                _ => 0,
            }
        }

        fn replaced(v: &Value) -> Value {
            match v {
                Value::String(s) => Value::String(s.replace('\0', "\u{fffd}")),
                Value::Array(a) => Value::Array(a.iter().map(replaced).collect()),
                Value::Object(o) => Value::Object(
                    o.iter()
                        .map(|(k, v)| (k.replace('\0', "\u{fffd}"), replaced(v)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }

        proptest! {
            /// For any JSON: the scan finds its depth, and the text without \u0000 is the same
            /// JSON with every NUL written U+FFFD, and holds no \u0000 escape any more.
            #[test]
            fn the_scan_and_the_rewrite_agree_with_a_parser(value in json()) {
                let text = value.to_string();
                prop_assert_eq!(scan(&text).depth, depth(&value));
                let rewritten = without_nul(&text);
                prop_assert_eq!(scan(&rewritten).nul_escapes, 0);
                let reread: Value = serde_json::from_str(&rewritten).unwrap();
                prop_assert_eq!(reread, replaced(&value));
            }
        }
    }
}
