//! A form drawn before a change made elsewhere saves nothing: an FAQ entry and a template edited
//! in two places keep the first save (the settings: browser.rs).
mod common;

use common::*;

#[test]
fn an_faq_entry_saved_from_an_outdated_page_keeps_the_change_made_since() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let id: i64 = shop
        .db()
        .query_one(
            "SELECT id FROM alphadome.bot_training_data WHERE question = 'What are your opening hours?'",
            &[],
        )
        .unwrap()
        .get(0);
    let (_, page) = owner.get(&format!("/faq/{id}"));
    let read_at = form_version(&page);
    let edit = |answer: &str| {
        owner.post(
            &format!("/faq/{id}"),
            &[
                ("csrf", &csrf),
                ("version", &read_at),
                ("data_type", "faq"),
                ("question", "What are your opening hours?"),
                ("answer", answer),
                ("category", "Business"),
                ("phrasings", ""),
                ("is_active", "on"),
            ],
        )
    };
    assert_eq!(edit("Open 9 to 6, Monday to Saturday.").0, 303);
    let (status, page) = edit("Open 8 to 5.");
    assert_eq!(status, 200);
    assert!(page.contains("This page was changed elsewhere"), "{page}");
    assert!(
        page.contains("Open 9 to 6, Monday to Saturday."),
        "it shows the entry as it is now"
    );
    let answer: String = shop
        .db()
        .query_one(
            "SELECT answer FROM alphadome.bot_training_data WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(answer, "Open 9 to 6, Monday to Saturday.");
}

#[test]
fn a_template_saved_from_an_outdated_page_keeps_the_change_made_since() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let (id, name): (i64, String) = {
        let row = shop
            .db()
            .query_one(
                "SELECT id, template_name FROM alphadome.bot_templates WHERE bot_tenant_id = $1::text::uuid ORDER BY id LIMIT 1",
                &[&shop.kassangas],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let (_, page) = owner.get("/templates");
    // The template's form, below the personality's (personality.rs).
    let read_at = form_version(&page[page.find(&format!("action=\"/templates/{id}\"")).unwrap()..]);
    let edit = |prompt: &str| {
        owner.post(
            &format!("/templates/{id}"),
            &[
                ("csrf", &csrf),
                ("version", &read_at),
                ("template_name", &name),
                ("system_prompt", prompt),
                ("triggers", ""),
                ("is_default", "on"),
                ("is_active", "on"),
            ],
        )
    };
    assert_eq!(
        edit("You are Kassangas Music Shop's assistant. Be brief.").0,
        303
    );
    let (status, page) = edit("You are a pirate.");
    assert_eq!(status, 200);
    assert!(page.contains("This page was changed elsewhere"), "{page}");
    let prompt: String = shop
        .db()
        .query_one(
            "SELECT system_prompt FROM alphadome.bot_templates WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        prompt,
        "You are Kassangas Music Shop's assistant. Be brief."
    );
}
