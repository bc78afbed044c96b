//! FAQ entries as a browser sends them (the walk of issue 22 found each of these).
mod common;

use common::*;

/// A text box's lines come from a browser ended by CR LF: the phrasings are stored without the
/// CR, added or saved (they were stored as "can you fix my guitar\r").
#[test]
fn phrasings_typed_on_several_lines_are_stored_without_the_browsers_line_ends() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let entry = |phrasings: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("data_type", "faq".to_string()),
            ("question", "Do you repair guitars?".to_string()),
            ("answer", "Yes: from KES 1,500.".to_string()),
            ("category", "Business".to_string()),
            ("phrasings", phrasings.to_string()),
            ("is_active", "on".to_string()),
        ]
    };
    let form = entry("can you fix my guitar\r\nguitar repair\r\n\r\n");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(owner.post("/faq", &form).0, 303);
    let stored = |shop: &Shop| -> (i64, Vec<String>) {
        let row = shop
            .db()
            .query_one(
                "SELECT id, phrasings FROM alphadome.bot_training_data WHERE question = 'Do you repair guitars?'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let (id, phrasings) = stored(&shop);
    assert_eq!(phrasings, ["can you fix my guitar", "guitar repair"]);
    // Saved from its page (with the version the page carries).
    let (_, page) = owner.get(&format!("/faq/{id}"));
    let version = form_version(&page);
    let mut form = entry("mnatengeneza gitaa\r\nguitar repair");
    form[0] = ("csrf", csrf.clone());
    let mut form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("version", &version));
    assert_eq!(owner.post(&format!("/faq/{id}"), &form).0, 303);
    assert_eq!(stored(&shop).1, ["mnatengeneza gitaa", "guitar repair"]);
}

/// "Kind" offered "FAQ" or "Canned reply" and said nothing of the difference (there is none in
/// how the bot answers): the form says so.
#[test]
fn the_entry_form_says_what_its_kind_changes() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/faq/new");
    assert!(
        page.contains(
            "Both answer the same way: \u{201c}Canned reply\u{201d} only marks a set reply"
        ),
        "{page}"
    );
}

/// An entry that overlaps an older one offers a one-tap fix: delete the older one (undoable), and
/// the question that tied then gets the new entry's answer (the walk of issue 22: the warning
/// had no fix, and taking the phrasing out of the old entry did not end the tie).
#[test]
fn an_overlap_is_fixed_in_one_tap_and_the_new_entry_then_answers() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let answer = "Yes: guitar repairs from KES 1,500, ready in two days.";
    let form = [
        ("csrf", csrf.as_str()),
        ("data_type", "faq"),
        ("question", "Do you repair guitars?"),
        ("answer", answer),
        ("category", "Business"),
        ("phrasings", "can you fix my guitar"),
        ("is_active", "on"),
    ];
    assert_eq!(owner.post("/faq", &form).0, 303);
    let mut db = shop.db();
    let mut id = |question: &str| -> i64 {
        db.query_one(
            "SELECT id FROM alphadome.bot_training_data WHERE question = $1",
            &[&question],
        )
        .unwrap()
        .get(0)
    };
    let (new, old) = (
        id("Do you repair guitars?"),
        id("Do you repair instruments?"),
    );
    let decide = || -> (String, Option<String>) {
        let row = shop
            .db()
            .query_one(
                "SELECT decision, answer FROM alphadome.try_message('can you fix my guitar', $1::text::uuid)",
                &[&shop.kassangas],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_ne!(decide(), ("faq".to_string(), Some(answer.to_string())));
    let (_, page) = owner.get(&format!("/faq?added={new}"));
    let fix = format!("action=\"/faq/{old}/delete\"");
    assert!(page.contains(&fix), "no one-tap fix on: {page}");
    assert!(page.contains("Answer with this entry: delete"), "{page}");
    assert_eq!(
        owner
            .post(&format!("/faq/{old}/delete"), &[("csrf", &csrf)])
            .0,
        303
    );
    assert_eq!(decide(), ("faq".to_string(), Some(answer.to_string())));
}
