//! What the console refuses: another tenant's rows, forged forms, ended sessions, guessed
//! passwords; and what it escapes. Through HTTP, as a browser (or an attacker) would send it.
mod common;

use common::*;

#[test]
fn an_owner_gets_404_for_another_tenants_conversation_faq_entry_and_template_and_never_sees_its_data(
) {
    let shop = Shop::start();
    let mut db = shop.db();
    // The other shop has a conversation, an FAQ entry, a template and an alert of its own.
    db.batch_execute(&format!(
        "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
         VALUES ('{o}', 'faq', 'Secret question of the other shop', 'SECRET-ANSWER-OF-OTHER-SHOP');
         INSERT INTO alphadome.bot_templates (bot_tenant_id, template_name, system_prompt, is_default)
         VALUES ('{o}', 'other', 'SECRET-PERSONA-OF-OTHER-SHOP', true);
         INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, customer_name)
         VALUES ('{o}', '254799000001', '254799000001', 'SECRET-CUSTOMER-OF-OTHER-SHOP');
         SELECT alphadome._alert('{o}', 'handoff', 'SECRET-ALERT-OF-OTHER-SHOP');",
        o = shop.other
    ))
    .unwrap();
    let faq: i64 = db
        .query_one(
            "SELECT id FROM alphadome.bot_training_data WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.other],
        )
        .unwrap()
        .get(0);
    let template: i64 = db
        .query_one(
            "SELECT id FROM alphadome.bot_templates WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.other],
        )
        .unwrap()
        .get(0);
    let conversation: i64 = db
        .query_one(
            "SELECT id FROM alphadome.conversations WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.other],
        )
        .unwrap()
        .get(0);
    let alert: i64 = db
        .query_one(
            "SELECT id FROM alphadome.alerts WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.other],
        )
        .unwrap()
        .get(0);
    let gideon = Visitor::new(&shop);
    assert_eq!(gideon.login(OWNER, PASSWORD), 303);
    assert_eq!(gideon.get(&format!("/conversations/{conversation}")).0, 404);
    assert_eq!(gideon.get(&format!("/faq/{faq}")).0, 404);
    assert_eq!(gideon.get(&format!("/alerts/{alert}")).0, 404);
    // The operator sees it.
    let ops = Visitor::new(&shop);
    assert_eq!(ops.login(OPERATOR, PASSWORD), 303);
    let (status, page) = ops.get(&format!("/alerts/{alert}"));
    assert!(status == 200 && page.contains("SECRET-ALERT-OF-OTHER-SHOP"));
    let csrf = gideon.csrf();
    let edit = [
        ("csrf", csrf.as_str()),
        ("data_type", "faq"),
        ("question", "taken"),
        ("answer", "taken"),
        ("is_active", "on"),
    ];
    assert_eq!(
        gideon.post(&format!("/faq/{faq}"), &edit).0,
        404,
        "no editing another tenant's entry"
    );
    assert_eq!(
        gideon
            .post(&format!("/faq/{faq}/delete"), &[("csrf", &csrf)])
            .0,
        404
    );
    assert_eq!(
        gideon
            .post(&format!("/templates/{template}/delete"), &[("csrf", &csrf)])
            .0,
        404
    );
    assert_eq!(
        gideon
            .post(&format!("/alerts/{alert}/done"), &[("csrf", &csrf)])
            .0,
        404,
        "no marking another tenant's alert done"
    );
    assert_eq!(
        gideon
            .post(
                &format!("/conversations/{conversation}/handoff"),
                &[("csrf", &csrf), ("take", "true")]
            )
            .0,
        404
    );
    for page in [
        "/",
        "/settings",
        "/templates",
        "/faq",
        "/conversations",
        "/alerts",
        "/usage",
        "/replay",
        "/account",
    ] {
        let (status, body) = gideon.get(page);
        assert_eq!(status, 200, "{page}");
        assert!(
            !body.contains("SECRET-") && !body.contains("OTHER-SHOP"),
            "{page} shows the other shop's data"
        );
    }
    assert_eq!(
        gideon.get("/operator").0,
        404,
        "an owner has no operator pages"
    );
    let other_alive: i64 = db
        .query_one(
            "SELECT count(*) FROM alphadome.bot_training_data WHERE id = $1",
            &[&faq],
        )
        .unwrap()
        .get(0);
    assert_eq!(other_alive, 1);
}

#[test]
fn forged_forms_ended_sessions_and_guessed_passwords_are_refused_and_owner_text_is_escaped() {
    let shop = Shop::start();
    let gideon = Visitor::new(&shop);
    assert_eq!(gideon.login(OWNER, PASSWORD), 303);
    // A POST without the csrf field, with a wrong one, or from another site: 403, nothing done.
    let add = |csrf: Option<&str>| {
        let mut form = vec![
            ("data_type", "faq"),
            ("question", "Forged?"),
            ("answer", "forged"),
            ("is_active", "on"),
        ];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        gideon.post("/faq", &form).0
    };
    assert_eq!(add(None), 403);
    assert_eq!(add(Some(&"0".repeat(64))), 403);
    let csrf = gideon.csrf();
    let from_elsewhere = gideon
        .http
        .post(format!("{}/switch", gideon.base))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("switch", "bot"), ("on", "false")])
        .send()
        .unwrap();
    assert_eq!(from_elsewhere.status().as_u16(), 403);
    let mut db = shop.db();
    let forged: i64 = db
        .query_one(
            "SELECT count(*) FROM alphadome.bot_training_data WHERE question = 'Forged?'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(forged, 0);
    let still_on: bool = db.query_one("SELECT is_bot_enabled FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid", &[&shop.kassangas]).unwrap().get(0);
    assert!(still_on);

    // An answer with markup is shown as text.
    let script = "<script>alert(1)</script>";
    let added = gideon.post(
        "/faq",
        &[
            ("csrf", &csrf),
            ("data_type", "faq"),
            ("question", "Is this safe?"),
            ("answer", script),
            ("is_active", "on"),
        ],
    );
    assert_eq!(added.0, 303);
    let (_, page) = gideon.get("/faq");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains(script),
        "escaped"
    );
    let headers = gideon
        .http
        .get(format!("{}/faq", gideon.base))
        .send()
        .unwrap()
        .headers()
        .clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");

    // After logout the old cookie is worth nothing.
    let cookie = gideon.cookie();
    assert!(cookie.starts_with("alphadome_session="), "{cookie}");
    assert_eq!(gideon.post("/logout", &[("csrf", &csrf)]).0, 303);
    let replayed = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = replayed
        .get(format!("{}/faq", shop.url))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(
        (
            old.status().as_u16(),
            old.headers()["location"].to_str().unwrap()
        ),
        (303, "/login?then=%2Ffaq")
    );

    // Five wrong passwords, then even the right one waits: 429 with Retry-After.
    let guesser = Visitor::new(&shop);
    for _ in 0..5 {
        assert_eq!(guesser.login(OWNER, "not the password"), 401);
    }
    let sixth = guesser
        .http
        .post(format!("{}/login", shop.url))
        .form(&[("email", OWNER), ("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(sixth.status().as_u16(), 429);
    assert!(
        sixth.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 800
    );
    assert!(
        !shop.console_log().contains(PASSWORD),
        "no password in the console's log"
    );
}
