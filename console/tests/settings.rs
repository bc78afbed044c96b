//! The settings page as an owner uses it.
mod common;

use common::*;

/// Replies to a location pin, a photo, ... are a box per kind of message, not a JSON text to
/// type (the walk of issue 22 found "Replies by message type: JSON, e.g. {...}"); what is typed
/// is stored as type_replies and shown again in its box, and an empty box stores nothing.
#[test]
fn replies_by_kind_of_message_are_one_box_each_not_json() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/settings");
    assert!(!page.contains("JSON"), "{page}");
    assert!(page.contains("A location pin"), "{page}");
    let version = form_version(&page);
    let csrf = owner.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("version", version.as_str()),
        ("is_bot_enabled", "on"),
        ("enable_ai_responses", "on"),
        ("fallback_message", "Sorry, one of us will answer soon."),
        ("opt_out_keywords", "stop"),
        ("opt_in_keywords", "start"),
        // One per line as a phone's box sends them (CR LF), a comma as before.
        (
            "handoff_keywords",
            "human\r\ntalk to a person, agent\r\n\r\n",
        ),
        ("faq_confidence", "0.6"),
        ("alert_template_language", "en"),
        (
            "reply_location",
            "  Thanks for the pin! We will look at it.  ",
        ),
        ("reply_image", ""),
    ];
    assert_eq!(owner.post("/settings", &form).0, 303);
    let stored: serde_json::Value = shop
        .db()
        .query_one(
            "SELECT type_replies FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        serde_json::json!({"location": "Thanks for the pin! We will look at it."})
    );
    let handoff: Vec<String> = shop
        .db()
        .query_one(
            "SELECT handoff_keywords FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    assert_eq!(handoff, ["human", "talk to a person", "agent"]);
    let (_, page) = owner.get("/settings");
    assert!(
        page.contains("value=\"Thanks for the pin! We will look at it.\""),
        "{page}"
    );
    assert!(
        page.contains(
            "name=\"handoff_keywords\" rows=\"4\">human\ntalk to a person\nagent</textarea>"
        ),
        "{page}"
    );
}

/// Matching by meaning (issue 29) is switched on from the settings page: the model is stored,
/// the closeness too, an empty closeness is the default, and a closeness out of range is
/// refused in plain words (as is the FAQ's own), with nothing saved.
#[test]
fn the_owner_turns_on_matching_by_meaning_and_is_told_plainly_when_a_number_is_wrong() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let stored = || -> (Option<String>, f32, f32) {
        let r = shop
            .db()
            .query_one(
                "SELECT embedding_model, semantic_confidence, faq_confidence
                   FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
                &[&shop.kassangas],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    let save = |model: &str, closeness: &str, faq: &str| {
        let (_, page) = owner.get("/settings");
        assert!(
            page.contains("Understanding questions by meaning"),
            "{page}"
        );
        let version = form_version(&page);
        let csrf = owner.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("is_bot_enabled", "on"),
            ("enable_ai_responses", "on"),
            ("fallback_message", "Sorry, one of us will answer soon."),
            ("faq_confidence", faq),
            ("alert_template_language", "en"),
            ("embedding_model", model),
            ("semantic_confidence", closeness),
        ];
        owner.post("/settings", &form)
    };
    assert_eq!(save(" text-embedding-3-small ", "0,85", "0.6").0, 303);
    assert_eq!(stored(), (Some("text-embedding-3-small".into()), 0.85, 0.6));
    let (status, page) = save("text-embedding-3-small", "1.5", "0.6");
    assert_eq!(status, 200);
    assert!(
        page.contains("How close in meaning: a number above 0 and at most 1"),
        "{page}"
    );
    let (_, page) = save("text-embedding-3-small", "0.85", "sure");
    assert!(
        page.contains("How sure the FAQ must be: a number above 0 and at most 1"),
        "{page}"
    );
    assert!(!page.contains("violates"), "{page}");
    assert_eq!(stored().1, 0.85, "nothing saved by a refused form");
    assert_eq!(save("", "", "0.7").0, 303);
    assert_eq!(
        stored(),
        (None, 0.8, 0.7),
        "emptied: off, and the default closeness"
    );
}
