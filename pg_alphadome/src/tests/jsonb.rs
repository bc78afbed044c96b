//! jsonb read in place (src/jsonb.rs): like SQL's operators, on every shape of value, and the
//! words ingest finds in each kind of message.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::ingest::message::{field, message_text};
    use crate::jsonb::{object_of_integers, Json};
    use crate::tests::*;
    use pgrx::datum::DatumWithOid;
    use pgrx::pg_sys;

    /// `text` as a jsonb value, read in place (the datum lives in the test's memory context).
    fn json(text: &str) -> Json<'static> {
        let text = std::ffi::CString::new(text).unwrap();
        // SAFETY: jsonb_in reads a C string and returns a new datum that is never freed
        // before the test ends.
        unsafe {
            let datum = pgrx::direct_function_call_as_datum(
                pg_sys::jsonb_in,
                &[Some(pg_sys::Datum::from(text.as_ptr()))],
            )
            .unwrap();
            Json::from_datum(datum)
        }
    }

    #[pg_test]
    fn text_reads_like_sql_arrow_text() {
        let document = r#"{"s": "x", "esc": "caf\u00e9 \"q\"\n", "n": 12.50, "big": 1e400,
            "neg": -0.5, "t": true, "f": false, "z": null, "empty": "",
            "o": {"a": [1, {"b": 2}]}, "a": [1, "two", null]}"#;
        let value = json(document);
        for key in [
            "s", "esc", "n", "big", "neg", "t", "f", "z", "empty", "o", "a", "missing",
        ] {
            let sql = one::<String>("SELECT $1::jsonb ->> $2", &[document.into(), key.into()]);
            assert_eq!(field(value, key), sql, "{key}");
        }
        assert_eq!(field(value, "n").as_deref(), Some("12.50"));
    }

    #[pg_test]
    fn get_items_and_at_follow_only_their_kind() {
        let value = json(r#"{"o": {"a": [1, {"b": 2}]}, "list": ["x", 2, null]}"#);
        let list: Vec<Option<String>> = value
            .get("list")
            .unwrap()
            .items()
            .map(|item| item.text().map(String::from))
            .collect();
        assert_eq!(list, [Some("x".into()), Some("2".into()), None]);
        assert_eq!(value.items().count(), 0, "an object has no items");
        assert_eq!(value.items_in("list").count(), 3);
        assert_eq!(value.items_in("o").count(), 0, "not an array");
        assert_eq!(value.items_in("missing").count(), 0);
        assert!(
            value.get("list").unwrap().get("x").is_none(),
            "an array has no keys"
        );
        let nested = value.at(&["o", "a"]).unwrap().items().nth(1).unwrap();
        assert_eq!(field(nested, "b").as_deref(), Some("2"));
        assert!(value.at(&["o", "missing", "deeper"]).is_none());

        // Nesting has no limit of its own.
        let deep = json(&format!("{}1{}", "[".repeat(300), "]".repeat(300)));
        let bottom = (0..300).try_fold(deep, |v, _| v.items().next());
        assert_eq!(bottom.and_then(Json::text).as_deref(), Some("1"));
    }

    /// For any JSON document, the reader finds at every path of keys what SQL's #>> finds.
    #[pg_test]
    fn the_reader_agrees_with_sql_on_any_document() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            "[a-c\\\\\"é\\u{202e}☃ ]{0,6}".prop_map(Value::String),
        ];
        let documents = leaf.prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        let paths = prop::collection::vec(prop::collection::vec("[a-c]{1,2}", 0..4), 1..6);
        let mut runner = TestRunner::new(Config::with_cases(64));
        runner
            .run(&(documents, paths), |(document, paths)| {
                let text = document.to_string();
                let value = json(&text);
                for path in paths {
                    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                    let ours = value.at(&keys).and_then(Json::text).map(String::from);
                    let sql = one::<String>(
                        "SELECT $1::jsonb #>> $2",
                        &[text.as_str().into(), path.clone().into()],
                    );
                    prop_assert_eq!(ours, sql, "{} at {:?}", text, path);
                }
                Ok(())
            })
            .unwrap();
    }

    #[pg_test]
    fn a_bare_scalar_is_a_value_not_a_container() {
        assert_eq!(json(r#""x""#).text().as_deref(), Some("x"));
        assert_eq!(json("5").text().as_deref(), Some("5"));
        assert_eq!(json("null").text(), None);
        assert!(json(r#""x""#).get("x").is_none());
        assert_eq!(json("5").items().count(), 0);
    }

    #[pg_test]
    fn object_of_integers_equals_the_same_object_in_sql() {
        let built = object_of_integers(&[("jobs", 1), ("accepted", -2), ("big", i64::MAX)]);
        // SAFETY: a jsonb datum made above.
        let built = unsafe { DatumWithOid::new(built, pg_sys::JSONBOID) };
        let same = one::<bool>(
            r#"SELECT $1 = '{"jobs": 1, "accepted": -2, "big": 9223372036854775807}'::jsonb"#,
            &[built],
        );
        assert_eq!(same, Some(true));
    }

    #[pg_test]
    fn every_kind_of_message_yields_its_words() {
        let cases = [
            (r#"{"type": "text", "text": {"body": "Hi"}}"#, Some("Hi")),
            (
                r#"{"type": "button", "button": {"text": "Yes", "payload": "YES"}}"#,
                Some("Yes"),
            ),
            (
                r#"{"type": "button", "button": {"payload": "YES"}}"#,
                Some("YES"),
            ),
            (
                r#"{"type": "interactive", "interactive": {"list_reply": {"id": "1", "title": "Guitars"}}}"#,
                Some("Guitars"),
            ),
            (
                r#"{"type": "interactive", "interactive": {"nfm_reply": {"body": "Sent"}}}"#,
                Some("Sent"),
            ),
            (
                r#"{"type": "reaction", "reaction": {"emoji": "👍"}}"#,
                Some("👍"),
            ),
            (
                r#"{"type": "location", "location": {"name": "Shop", "address": "Moi Ave"}}"#,
                Some("Shop, Moi Ave"),
            ),
            (
                r#"{"type": "location", "location": {"address": "Moi Ave", "latitude": -1.28}}"#,
                Some("Moi Ave"),
            ),
            (
                r#"{"type": "order", "order": {"text": "Two capos"}}"#,
                Some("Two capos"),
            ),
            (
                r#"{"type": "system", "system": {"body": "User changed number"}}"#,
                Some("User changed number"),
            ),
            (
                r#"{"type": "image", "image": {"caption": "This one?"}}"#,
                Some("This one?"),
            ),
            (r#"{"type": "sticker", "sticker": {"id": "1"}}"#, None),
            (
                r#"{"type": "unsupported", "errors": [{"code": 131051}]}"#,
                None,
            ),
            (r#"{"id": "no type"}"#, None),
        ];
        for (message, expected) in cases {
            assert_eq!(
                message_text(json(message)).as_deref(),
                expected,
                "{message}"
            );
        }
    }
}
