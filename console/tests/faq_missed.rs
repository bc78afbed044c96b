//! "Questions the FAQ did not answer" over HTTP (issue 29): the list, the one-tap add with the
//! entry's version, dismiss, and a new entry started from a question.
mod common;

use common::*;
use std::time::Duration;

/// A question none of the seed's entries answers: it goes to the AI.
const MISSED: &str = "Do you sell violin bows?";
/// The mock LLM's answer to everything.
const AI_SAYS: &str = "Our violins start at KES 15,000.";

/// Two customers ask MISSED (in other cases and signs), and the AI answers both.
fn two_customers_miss(shop: &Shop) {
    shop.customer_asks("254711000301", MISSED, "wamid.missed.1");
    shop.customer_asks("254711000302", "do you sell VIOLIN bows", "wamid.missed.2");
    shop.meta
        .wait_until(Duration::from_secs(30), "the AI's two replies", |r| {
            r.iter()
                .filter(|x| x.body["text"]["body"] == AI_SAYS)
                .count()
                >= 2
        });
}

/// The closest entry's id and version as the page's add form carries them, if it has one.
fn add_form(page: &str) -> Option<(String, String)> {
    let field = |name: &str| -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let at = page.find("action=\"/faq/missed/add\"")?;
        let rest = &page[at..];
        let start = rest.find(&marker)? + marker.len();
        Some(rest[start..start + rest[start..].find('"')?].to_string())
    };
    Some((field("entry")?, field("version")?))
}

fn decision(shop: &Shop, message: &str) -> String {
    shop.db()
        .query_one(
            "SELECT decision FROM alphadome.try_message($1, $2::text::uuid)",
            &[&message, &shop.kassangas],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_missed_question_is_listed_once_with_its_count_and_added_in_one_tap() {
    let shop = Shop::start();
    two_customers_miss(&shop);
    assert_eq!(decision(&shop, MISSED), "llm");
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (status, faq) = owner.get("/faq");
    assert_eq!(status, 200);
    assert!(
        faq.contains("href=\"/faq/missed\""),
        "linked from the FAQ page"
    );
    let (status, page) = owner.get("/faq/missed");
    assert_eq!(status, 200);
    assert_eq!(
        page.matches("<li>").count(),
        1,
        "one question, counted twice: {page}"
    );
    assert!(page.contains("asked 2 times"), "{page}");
    assert!(page.contains(AI_SAYS), "what the AI answered: {page}");
    // Violin bows share "sell" with two entries alike: no home, so a new entry is offered first.
    assert!(
        page.contains("No entry fits it well (the closest is \u{201c}"),
        "{page}"
    );
    let new_entry = page.find("Start a new entry from it").expect("{page}");
    assert!(new_entry < page.find("/faq/missed/add").unwrap(), "{page}");
    assert!(page.contains("Dismiss"), "{page}");
    assert!(!page.contains("fits 0."), "no scores for the owner: {page}");
    let (entry, version) = add_form(&page).expect("an add button");
    let csrf = owner.csrf();
    // The other shop's owner sees none of it.
    let other = Visitor::new(&shop);
    assert_eq!(other.login(OTHER_OWNER, PASSWORD), 303);
    let (_, theirs) = other.get("/faq/missed");
    assert!(!theirs.contains("violin"), "{theirs}");
    // A page drawn before the entry changed elsewhere adds nothing, and says so.
    shop.db()
        .execute(
            "UPDATE alphadome.bot_training_data SET answer = answer || ' ' WHERE id = $1::text::bigint",
            &[&entry],
        )
        .unwrap();
    let form = |version: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("entry", entry.clone()),
            ("version", version.to_string()),
            ("message", MISSED.to_string()),
        ]
    };
    let post = |form: Vec<(&str, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        owner.post("/faq/missed/add", &form)
    };
    let (status, refused) = post(form(&version));
    assert_eq!(status, 200);
    assert!(
        refused.contains("This page was changed elsewhere: nothing was saved"),
        "{refused}"
    );
    assert_eq!(decision(&shop, MISSED), "llm", "nothing added");
    // Without the CSRF token: refused.
    let mut forged = form(&version);
    forged.remove(0);
    assert_eq!(post(forged).0, 403);
    // With the version now: added; the page then shows that the FAQ answers it.
    let (_, page) = owner.get("/faq/missed");
    let (_, version) = add_form(&page).expect("an add button");
    let response = owner
        .http
        .post(format!("{}/faq/missed/add", owner.base))
        .form(&form(&version))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let then = response.headers()["location"].to_str().unwrap().to_string();
    let (_, after) = owner.get(&then);
    assert!(after.contains("The FAQ answers it now."), "{after}");
    assert!(after.contains("as a way of asking"), "{after}");
    assert!(!after.contains("<li>"), "no question left: {after}");
    assert_eq!(decision(&shop, MISSED), "faq");
}

/// A question that shares its words with one entry clearly is said to belong to it, and adding
/// it there is the first button; the next entries that fit are offered too.
#[test]
fn a_question_with_a_clear_home_is_offered_for_that_entry_first() {
    let shop = Shop::start();
    let asked = "Is the paybill still the same one?";
    shop.customer_asks("254711000304", asked, "wamid.missed.4");
    shop.meta
        .wait_until(Duration::from_secs(30), "the AI's reply", |r| {
            r.iter().any(|x| x.body["text"]["body"] == AI_SAYS)
        });
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/faq/missed");
    assert!(
        page.contains("It seems to belong to \u{201c}M-Pesa paybill number\u{201d}."),
        "{page}"
    );
    let first_add = page.find("Add as a way of asking").expect("{page}");
    assert!(
        page[first_add..].starts_with("Add as a way of asking \u{201c}M-Pesa paybill number"),
        "{page}"
    );
    assert!(
        first_add < page.find("Start a new entry from it").unwrap(),
        "{page}"
    );
    assert!(
        page.contains("class=\"button secondary\" href=\"/faq/new?"),
        "a new entry is the second choice here: {page}"
    );
}

#[test]
fn a_question_is_dismissed_or_starts_a_new_entry_and_then_leaves_the_list() {
    let shop = Shop::start();
    two_customers_miss(&shop);
    shop.customer_asks("254711000303", "Is my order ready?", "wamid.missed.3");
    shop.meta
        .wait_until(Duration::from_secs(30), "the AI's three replies", |r| {
            r.iter()
                .filter(|x| x.body["text"]["body"] == AI_SAYS)
                .count()
                >= 3
        });
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/faq/missed");
    assert_eq!(page.matches("<li>").count(), 2, "{page}");
    let csrf = owner.csrf();
    let (status, _) = owner.post(
        "/faq/missed/dismiss",
        &[("csrf", &csrf), ("message", "Is my order ready?")],
    );
    assert_eq!(status, 303);
    let (_, page) = owner.get("/faq/missed?dismissed=Is+my+order+ready%3F");
    assert!(
        page.contains("Dismissed \u{201c}Is my order ready?\u{201d}"),
        "{page}"
    );
    assert_eq!(page.matches("<li>").count(), 1, "{page}");
    // "Start a new entry from it": its words are the new entry's question.
    let start = "/faq/new?missed=do+you+sell+VIOLIN+bows";
    assert!(page.contains(&start.replace('&', "&amp;")), "{page}");
    let (_, new) = owner.get(start);
    assert!(
        new.contains("name=\"question\" value=\"do you sell VIOLIN bows\""),
        "{new}"
    );
    assert!(
        new.contains("name=\"missed\" value=\"do you sell VIOLIN bows\""),
        "{new}"
    );
    let (status, _) = owner.post(
        "/faq",
        &[
            ("csrf", &csrf),
            ("data_type", "faq"),
            ("question", "Do you sell violin bows?"),
            ("answer", "Yes: bows from KES 2,500."),
            ("category", "Business"),
            ("is_active", "on"),
            ("missed", "do you sell VIOLIN bows"),
        ],
    );
    assert_eq!(status, 303);
    let (_, page) = owner.get("/faq/missed");
    assert!(
        page.contains("None: the FAQ answered every question it could."),
        "{page}"
    );
    let handled: Vec<String> = shop
        .db()
        .query(
            "SELECT outcome || ' ' || question_key FROM alphadome.faq_unanswered_handled
              WHERE bot_tenant_id = $1::text::uuid ORDER BY outcome",
            &[&shop.kassangas],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        handled,
        [
            "dismissed is my order ready",
            "new_entry do you sell violin bows"
        ]
    );
}
