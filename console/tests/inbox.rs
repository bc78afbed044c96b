//! The inbox over HTTP: a person's reply within and outside Meta's 24-hour window, another
//! shop's conversations out of reach, and the shop's staff, who answer and change nothing else.
mod common;

use common::*;

const CUSTOMER: &str = "254711000902";
const AGENT: &str = "amina@kassangas.test";

fn conversation(shop: &Shop, customer: &str) -> i64 {
    shop.db()
        .query_one(
            "SELECT id FROM alphadome.conversations WHERE customer_key = $1",
            &[&customer],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_reply_goes_within_the_window_and_a_template_is_offered_after_it() {
    let shop = Shop::start();
    shop.customer_asks(CUSTOMER, "I want a human", "wamid.inbox.http.1");
    let id = conversation(&shop, CUSTOMER);
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let (status, page) = owner.get("/conversations?state=waiting");
    assert_eq!(status, 200);
    for path in [
        "/conversations?page=1",
        "/conversations?state=waiting&page=0",
    ] {
        assert_eq!(owner.get(path).0, 200, "{path}: pages of the list");
    }
    assert!(
        page.contains("waiting for a person") && page.contains(CUSTOMER),
        "{page}"
    );
    let (status, _) = owner.post(
        &format!("/conversations/{id}/reply"),
        &[("text", "Karibu, tunakusikiliza."), ("csrf", &csrf)],
    );
    assert_eq!(status, 303);
    let queued: i64 = shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE payload ->> 'sent_by' = 'person' AND payload ->> 'text' = 'Karibu, tunakusikiliza.'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(queued, 1);

    // A day later: free text is refused in plain words, the text kept; templates are offered.
    shop.db()
        .execute(
            "UPDATE alphadome.conversations SET last_inbound_at = now() - interval '25 hours' WHERE id = $1",
            &[&id],
        )
        .unwrap();
    let (status, page) = owner.post(
        &format!("/conversations/{id}/reply"),
        &[("text", "Are you still there?"), ("csrf", &csrf)],
    );
    assert_eq!(status, 200);
    assert!(
        page.contains("outside the 24-hour window: send a template"),
        "{page}"
    );
    let (_, page) = owner.get(&format!("/conversations/{id}"));
    assert!(
        page.contains("Templates are not connected for this shop yet") && page.contains("tel:+"),
        "without the WhatsApp Business account: who connects it, and the number to call: {page}"
    );
    shop.db()
        .execute(
            "UPDATE alphadome.bot_tenants SET whatsapp_business_account_id = '102290129340398' WHERE id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    shop.db()
        .execute(
            "INSERT INTO alphadome.whatsapp_templates (bot_tenant_id, name, language, status, body)
             VALUES ($1::text::uuid, 'order_update', 'en', 'APPROVED', 'Hello {{1}}, your order {{2}} is ready.')",
            &[&shop.kassangas],
        )
        .unwrap();
    let (_, page) = owner.get(&format!("/conversations/{id}"));
    assert!(
        page.contains("More than 24 hours") && page.contains("order_update"),
        "{page}"
    );
    let (status, _) = owner.post(
        &format!("/conversations/{id}/template"),
        &[
            ("template", "order_update"),
            ("language", "en"),
            ("p1", "Wanjiku"),
            ("p2", "KMS-7"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(status, 303);
    let rendered: String = shop
        .db()
        .query_one(
            "SELECT payload ->> 'text' FROM alphadome.outbox WHERE payload ? 'template' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rendered, "Hello Wanjiku, your order KMS-7 is ready.");
    let (status, _) = owner.post(&format!("/conversations/{id}/resolve"), &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    let state: String = shop
        .db()
        .query_one(
            "SELECT state FROM alphadome.conversations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "resolved");

    // Another shop's owner cannot see or answer it.
    let other = Visitor::new(&shop);
    assert_eq!(other.login(OTHER_OWNER, PASSWORD), 303);
    let other_csrf = other.csrf();
    assert_eq!(other.get(&format!("/conversations/{id}")).0, 404);
    for action in ["reply", "resolve", "handback"] {
        let (status, _) = other.post(
            &format!("/conversations/{id}/{action}"),
            &[("text", "hi"), ("csrf", &other_csrf)],
        );
        assert_eq!(status, 404, "{action}");
    }
}

#[test]
fn the_shops_staff_answer_customers_and_change_nothing_else() {
    let shop = Shop::start();
    shop.customer_asks(
        CUSTOMER,
        "Nataka kuongea na mtu tafadhali",
        "wamid.inbox.http.2",
    );
    let id = conversation(&shop, CUSTOMER);
    // The owner makes the login from his account page.
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (status, page) = owner.post(
        "/account/staff",
        &[
            ("email", AGENT),
            ("password", PASSWORD),
            ("csrf", &owner.csrf()),
        ],
    );
    assert_eq!(status, 200);
    assert!(page.contains("can log in now"), "{page}");

    let agent = Visitor::new(&shop);
    assert_eq!(agent.login(AGENT, PASSWORD), 303);
    let csrf = agent.csrf();
    let (status, page) = agent.get("/conversations");
    assert_eq!(status, 200);
    assert!(
        page.contains(CUSTOMER) && !page.contains("href=\"/settings\""),
        "{page}"
    );
    assert_eq!(
        agent.get("/").0,
        303,
        "the overview sends staff to the inbox"
    );
    for path in [
        "/settings",
        "/hours",
        "/faq",
        "/templates",
        "/usage",
        "/replay",
        "/alerts",
    ] {
        assert_eq!(agent.get(path).0, 404, "{path}");
    }
    for (path, form) in [
        ("/settings", vec![("enable_ai_responses", "off")]),
        (
            "/faq",
            vec![("question", "Q?"), ("answer", "A."), ("data_type", "faq")],
        ),
        ("/switch", vec![("switch", "ai"), ("on", "false")]),
        (
            "/account/staff",
            vec![("email", "x@kassangas.test"), ("password", PASSWORD)],
        ),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        assert_eq!(agent.post(path, &form).0, 404, "{path}");
    }
    let (status, _) = agent.post(
        &format!("/conversations/{id}/reply"),
        &[
            ("text", "Habari! Mimi ni Amina, nikusaidie aje?"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(status, 303);
    let row = shop
        .db()
        .query_one(
            "SELECT (SELECT state FROM alphadome.conversations WHERE id = $1),
                    (SELECT a.email FROM alphadome.outbox o JOIN alphadome.console_accounts a ON a.id = (o.payload ->> 'account')::uuid
                      WHERE o.payload ->> 'sent_by' = 'person')",
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "person");
    assert_eq!(
        row.get::<_, String>(1),
        AGENT,
        "the reply names its account"
    );
    let enabled: bool = shop
        .db()
        .query_one(
            "SELECT enable_ai_responses FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    assert!(enabled, "nothing the agent posted changed a setting");
}
