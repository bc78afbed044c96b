//! One personality (issue 22): the owner writes the bot's tone, his shop's description and his
//! offers once, on the AI persona page, and every prompt has them whatever template the message
//! picks: the page's preview of a price question and of a greeting, and what the relay sends
//! the LLM for a customer's question.
mod common;

use common::*;
use std::time::Duration;

const OFFER: &str = "December sale: 10% off all guitars until 31 Dec.";

/// The version field of the personality's form (the page's first form).
fn personality_version(page: &str) -> String {
    let form = page
        .find("action=\"/personality\"")
        .expect("the personality's form");
    form_version(&page[form..])
}

/// Posts the personality's form: the status, and where it sends the browser (a save) or the
/// page (not saved).
fn save(owner: &Visitor, version: &str, tone: &str, about: &str, offers: &str) -> (u16, String) {
    let csrf = owner.csrf();
    let r = owner
        .http
        .post(format!("{}/personality", owner.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("version", version),
            ("persona_tone", tone),
            ("shop_description", about),
            ("current_offers", offers),
        ])
        .send()
        .unwrap();
    let status = r.status().as_u16();
    match r.headers().get("location") {
        Some(to) => (status, to.to_str().unwrap().to_string()),
        None => (status, r.text().unwrap()),
    }
}

#[test]
fn the_personality_edited_on_the_page_is_in_every_prompt() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);

    // The personality comes first (the seed's), the templates below it as extra instructions.
    let (status, page) = owner.get("/templates");
    assert_eq!(status, 200);
    let personality = page
        .find("The bot&#39;s personality")
        .or_else(|| page.find("The bot's personality"));
    let extra = page.find("Extra instructions for some questions");
    // Each set of instructions by a name in words, with when it applies.
    assert!(
        page.contains("Product inquiry — when a message says price,"),
        "{page}"
    );
    assert!(
        personality.is_some() && extra.is_some() && personality < extra,
        "{page}"
    );
    for label in ["How the bot talks", "About your shop", "Offers now"] {
        assert!(page.contains(label), "{label}: {page}");
    }
    assert!(
        page.contains("Moi Avenue, Nairobi"),
        "the seed's description: {page}"
    );

    let (status, to) = save(
        &owner,
        &personality_version(&page),
        "cheerful and brief",
        "Kassangas Music Shop, Moi Avenue, Nairobi: instruments, sound equipment and repairs.",
        OFFER,
    );
    assert_eq!((status, to.as_str()), (303, "/templates?done=personality"));
    let (_, page) = owner.get(&to);
    assert!(page.contains("Personality saved"), "{page}");
    assert!(
        page.contains(OFFER) && page.contains("cheerful and brief"),
        "{page}"
    );

    // The preview: a price question (product_inquiry's trigger words) and a greeting (the
    // default template) both have it, each with its own template's instructions after it.
    for (message, instructions) in [
        (
            "How+much+is+a+guitar%3F",
            "Help the customer choose an instrument",
        ),
        ("hello+there", "Greet customers warmly"),
    ] {
        let (_, page) = owner.get(&format!("/templates?preview={message}"));
        let prompt = &page[page.find("What the AI is told").expect("the prompt shown")..];
        assert!(prompt.contains("Tone: cheerful and brief."), "{prompt}");
        assert!(prompt.contains(OFFER), "{prompt}");
        let (offer, own) = (prompt.find(OFFER).unwrap(), prompt.find(instructions));
        assert!(own.is_some_and(|at| at > offer), "{message}: {prompt}");
    }

    // And the relay sends it to the LLM with a customer's question.
    shop.customer_asks(
        "254711000901",
        "Any discount on a drum kit for my son?",
        "wamid.p.1",
    );
    let asked = shop
        .llm
        .wait_until(Duration::from_secs(30), "a prompt", |r| {
            r.iter().any(|x| x.body["messages"].is_array())
        });
    let system = asked
        .iter()
        .find_map(|x| x.body["messages"][0]["content"].as_str())
        .unwrap()
        .to_string();
    assert!(
        system.contains(OFFER) && system.contains("cheerful and brief"),
        "{system}"
    );

    // The offer is over: emptied, it leaves every prompt.
    let (_, page) = owner.get("/templates");
    let (status, _) = save(
        &owner,
        &personality_version(&page),
        "cheerful and brief",
        "",
        "",
    );
    assert_eq!(status, 303);
    let (_, page) = owner.get("/templates?preview=How+much+is+a+guitar%3F");
    let prompt = &page[page.find("What the AI is told").expect("the prompt shown")..];
    assert!(
        !prompt.contains("December sale") && !prompt.contains("About the shop"),
        "{prompt}"
    );
    let (offers, about): (Option<String>, Option<String>) = {
        let row = shop
            .db()
            .query_one(
                "SELECT current_offers, shop_description FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
                &[&shop.kassangas],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((offers, about), (None, None));
}

#[test]
fn a_personality_without_a_tone_or_from_an_outdated_page_is_not_saved() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/templates");
    let read_at = personality_version(&page);

    let (status, page) = save(&owner, &read_at, "   ", "", OFFER);
    assert_eq!(status, 200);
    assert!(page.contains("Say how the bot talks"), "{page}");
    assert!(page.contains(OFFER), "what was typed is kept: {page}");

    assert_eq!(save(&owner, &read_at, "formal", "", OFFER).0, 303);
    let (status, page) = save(&owner, &read_at, "playful", "", "");
    assert_eq!(status, 200);
    assert!(page.contains("This page was changed elsewhere"), "{page}");
    let (tone, offers): (String, Option<String>) = {
        let row = shop
            .db()
            .query_one(
                "SELECT persona_tone, current_offers FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
                &[&shop.kassangas],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((tone.as_str(), offers.as_deref()), ("formal", Some(OFFER)));
}
