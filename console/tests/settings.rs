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
    const FIELD: &str = "name=\"version\" value=\"";
    let at = page.find(FIELD).expect("the form's version") + FIELD.len();
    let version = page[at..at + 32].to_string();
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
