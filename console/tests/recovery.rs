//! Getting back in, through the console as the owner meets it: "Forgot password" → the link in
//! the email (caught by a mock SMTP server) → a new password → logged in with it, his other
//! sessions ended; the operator's link; the warning before logins are paused.
mod common;

use alphadome_e2e::smtp::{Mail, SmtpSink};
use common::*;
use std::time::Duration;

/// The reset link of an email and its token.
fn link_in(mail: &Mail) -> (String, String) {
    let text = mail.text();
    let at = text
        .find("/reset?token=")
        .expect("a reset link in the email");
    let start = text[..at].rfind("http").expect("the link is absolute");
    let token: String = text[at + 13..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(token.len(), 64, "a 64-hex-digit token");
    (text[start..at + 13 + 64].to_string(), token)
}

fn shop_with_email() -> (Shop, SmtpSink) {
    let sink = SmtpSink::start();
    let shop = Shop::start_with(&[("ALPHADOME_SMTP_URL", sink.url.as_str())]);
    (shop, sink)
}

#[test]
fn gideon_forgets_his_password_gets_a_link_by_email_and_his_other_sessions_end() {
    let (shop, sink) = shop_with_email();
    let old_phone = Visitor::new(&shop);
    assert_eq!(old_phone.login(OWNER, PASSWORD), 303);
    assert_eq!(old_phone.get("/").0, 200);

    let visitor = Visitor::new(&shop);
    assert!(visitor.get("/login").1.contains("href=\"/forgot\""));
    let (status, asked) = visitor.post("/forgot", &[("email", OWNER)]);
    assert_eq!(status, 200);
    assert!(
        asked.contains("a link to choose a new password is on its way"),
        "{asked}"
    );
    // An address without a login gets the same page, and no email.
    let (_, unknown) = visitor.post("/forgot", &[("email", "nobody@kassangas.test")]);
    assert_eq!(
        unknown, asked,
        "the same answer whether or not the login exists"
    );
    let mails = sink.wait_for(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        sink.mails().len(),
        1,
        "one email: none for the unknown address"
    );
    assert!(
        mails[0].to.iter().any(|to| to.contains(OWNER)),
        "{:?}",
        mails[0].to
    );
    let (link, token) = link_in(&mails[0]);
    assert!(
        link == format!("{}/reset?token={token}", shop.url),
        "the link names the console's public URL"
    );

    let path = format!("/reset?token={token}");
    let (status, page) = visitor.get(&path);
    assert_eq!(status, 200);
    // (Pages holding the link's token are never printed.)
    assert!(page.contains("Choose a new password"), "the reset form");
    let new_password = "three guitars on the wall";
    let (_, differ) = visitor.post(
        "/reset",
        &[
            ("token", &token),
            ("new", new_password),
            ("repeat", "something else entirely"),
        ],
    );
    assert!(
        differ.contains("The two new passwords differ"),
        "the passwords differ"
    );
    let (_, weak) = visitor.post(
        "/reset",
        &[
            ("token", &token),
            ("new", "password123"),
            ("repeat", "password123"),
        ],
    );
    assert!(
        weak.contains("That password cannot be used"),
        "a weak password is refused"
    );
    let response = visitor
        .http
        .post(format!("{}/reset", shop.url))
        .form(&[
            ("token", token.as_str()),
            ("new", new_password),
            ("repeat", new_password),
        ])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/login?reset=done");
    assert!(visitor
        .get("/login?reset=done")
        .1
        .contains("Your new password is set"));

    // The session from before is over; the old password is refused, the new one works.
    let (status, _) = old_phone.get("/");
    assert_eq!(status, 303, "the old session went back to the login page");
    assert_eq!(Visitor::new(&shop).login(OWNER, PASSWORD), 401);
    let again = Visitor::new(&shop);
    assert_eq!(again.login(OWNER, new_password), 303);
    assert_eq!(again.get("/").0, 200);
    // The link worked once.
    let (status, used) = visitor.get(&path);
    assert_eq!(status, 404);
    assert!(used.contains("This link does not work any more"));
    // Neither the link's token nor a password is in the console's log.
    let log = shop.console_log();
    assert!(!log.contains(&token) && !log.contains(new_password) && !log.contains(PASSWORD));
}

#[test]
fn the_operator_emails_an_owner_a_link_to_choose_a_new_password() {
    let (shop, sink) = shop_with_email();
    let account: String = shop
        .db()
        .query_one(
            "SELECT id::text FROM alphadome.console_accounts WHERE email = $1",
            &[&OWNER],
        )
        .unwrap()
        .get(0);
    let operator = Visitor::new(&shop);
    assert_eq!(operator.login(OPERATOR, PASSWORD), 303);
    let action = format!("/operator/accounts/{account}/reset");
    assert!(operator.get("/operator").1.contains(&action));
    let csrf = operator.csrf();
    let response = operator
        .http
        .post(format!("{}{action}", shop.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/operator?done=reset");
    let mails = sink.wait_for(1, Duration::from_secs(20));
    assert!(mails[0].to.iter().any(|to| to.contains(OWNER)));
    assert!(mails[0]
        .text()
        .contains("The AlphaDome operator sent you this link"));
    let (_, token) = link_in(&mails[0]);
    let owner = Visitor::new(&shop);
    let chosen = "my own new words here";
    let (status, _) = owner.post(
        "/reset",
        &[("token", &token), ("new", chosen), ("repeat", chosen)],
    );
    assert_eq!(status, 303);
    assert_eq!(owner.login(OWNER, chosen), 303);
    // An owner cannot send such links.
    let gideon = Visitor::new(&shop);
    assert_eq!(gideon.login(OWNER, chosen), 303);
    let csrf = gideon.csrf();
    let (status, _) = gideon.post(&action, &[("csrf", &csrf)]);
    assert_eq!(status, 404);
}

#[test]
fn the_login_page_warns_before_logins_are_paused() {
    let shop = Shop::start();
    let visitor = Visitor::new(&shop);
    let wrong = |expected_status: u16| {
        let (status, page) = visitor.post(
            "/login",
            &[("email", OWNER), ("password", "not my password at all")],
        );
        assert_eq!(status, expected_status, "{page}");
        page
    };
    for _ in 0..2 {
        let page = wrong(401);
        assert!(page.contains("Wrong email or password.") && !page.contains("more wrong"));
    }
    assert!(wrong(401).contains("Two more wrong tries and logging in is paused for 15 minutes."));
    assert!(wrong(401).contains("One more wrong try and logging in is paused for 15 minutes."));
    assert!(wrong(401).contains("That was the last try: logging in is paused for 15 minutes."));
    assert!(wrong(429).contains("Too many failed logins."));
}

#[test]
fn without_email_forgot_password_says_to_ask_the_operator() {
    let shop = Shop::start();
    let visitor = Visitor::new(&shop);
    let (status, page) = visitor.get("/forgot");
    assert_eq!(status, 200);
    assert!(page.contains("Ask the operator"), "{page}");
    let (_, posted) = visitor.post("/forgot", &[("email", OWNER)]);
    assert!(posted.contains("Ask the operator"), "{posted}");
    let asked: i64 = shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.console_password_resets",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(asked, 0, "no link was made that nobody could receive");
}

/// An alert's link to a conversation opened on a phone whose session has ended: logging in goes
/// on to that conversation (it landed on the overview), and never to another site.
#[test]
fn logging_in_from_a_link_goes_on_to_the_page_it_was_for() {
    let shop = Shop::start();
    let gideon = Visitor::new(&shop);
    let asked = gideon
        .http
        .get(format!("{}/conversations/7?x=1", shop.url))
        .send()
        .unwrap();
    assert_eq!(asked.status().as_u16(), 303);
    assert_eq!(
        asked.headers()["location"],
        "/login?then=%2Fconversations%2F7%3Fx%3D1"
    );
    let (_, page) = gideon.get("/login?then=%2Fconversations%2F7%3Fx%3D1");
    assert!(
        page.contains(r#"name="then" value="/conversations/7?x=1""#),
        "{page}"
    );
    let login = |then: &str| {
        Visitor::new(&shop)
            .http
            .post(format!("{}/login", shop.url))
            .form(&[("email", OWNER), ("password", PASSWORD), ("then", then)])
            .send()
            .unwrap()
    };
    let landed = login("/conversations/7?x=1");
    assert_eq!(landed.status().as_u16(), 303);
    assert_eq!(landed.headers()["location"], "/conversations/7?x=1");
    for elsewhere in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "/login",
    ] {
        assert_eq!(login(elsewhere).headers()["location"], "/", "{elsewhere}");
    }
    // Logging in from the login page itself still lands on the overview.
    assert_eq!(gideon.login(OWNER, PASSWORD), 303);
}
