//! Alerts that reach a person, end to end through the relay: free-form WhatsApp text inside the
//! 24-hour window, the tenant's approved template outside it, and email to the owner and the
//! operator's webhook when WhatsApp cannot carry them; each recorded in alphadome.alerts as it
//! went. A real SMTP conversation (a sink on 127.0.0.1), a real HTTP listener for the webhook.
mod common;

use alphadome_e2e::mock::{meta_error, Mock, Recorded};
use alphadome_e2e::smtp::SmtpSink;
use common::*;
use serde_json::json;
use std::time::Duration;

const GIDEON: &str = "254702245555";

struct Alerting {
    d: Deployment,
    smtp: SmtpSink,
    hook: Mock,
}

fn start() -> Alerting {
    let smtp = SmtpSink::start();
    let hook = Mock::hook();
    let d = Deployment::start(&[
        ("ALPHADOME_SMTP_URL", smtp.url.as_str()),
        ("ALPHADOME_OPERATOR_WEBHOOK_URL", hook.base.as_str()),
        ("ALPHADOME_OPERATOR_EMAIL", "ops@alphadome.test"),
    ]);
    d.db()
        .batch_execute("UPDATE alphadome.bot_tenants SET client_email = 'gideon@kassangas.test' WHERE slug = 'kassangas'")
        .unwrap();
    Alerting { d, smtp, hook }
}

fn alert_row(d: &Deployment, kind: &str) -> (String, Option<String>) {
    let row = d
        .db()
        .query_one(
            "SELECT status, channel FROM alphadome.alerts WHERE kind = $1",
            &[&kind],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn sends_to(requests: &[Recorded], to: &str) -> Vec<Recorded> {
    requests
        .iter()
        .filter(|r| r.body["to"] == to && r.body.get("status").is_none())
        .cloned()
        .collect()
}

#[test]
fn inside_the_24_hour_window_the_alert_is_a_free_form_text() {
    let a = start();
    // Gideon wrote to his own bot this morning: the window is open.
    assert_eq!(
        a.d.post(&text_now(GIDEON, "Good morning", "wamid.gideon.1"))
            .0,
        200
    );
    assert_eq!(
        a.d.post(&text_now(
            "254711000001",
            "Can I talk to a human?",
            "wamid.ask.1"
        ))
        .0,
        200
    );
    let is_alert = |s: &Recorded| {
        s.body["text"]["body"]
            .as_str()
            .is_some_and(|t| t.contains("asked for a person"))
    };
    let requests = a.d.meta.wait_until(LONG, "the alert to Gideon", |r| {
        sends_to(r, GIDEON).iter().any(is_alert)
    });
    let alert = sends_to(&requests, GIDEON)
        .into_iter()
        .find(is_alert)
        .unwrap();
    assert_eq!(alert.body["type"], "text");
    assert!(alert.violations.is_empty(), "{:?}", alert.violations);
    a.d.wait_until_idle(LONG);
    assert_eq!(
        alert_row(&a.d, "handoff"),
        ("sent".into(), Some("whatsapp_text".into()))
    );
    assert!(
        a.smtp.mails().is_empty() && a.hook.requests().is_empty(),
        "WhatsApp took it"
    );
}

#[test]
fn outside_the_window_the_tenants_template_carries_it() {
    let a = start();
    a.d.db()
        .batch_execute(
            "UPDATE alphadome.bot_control_settings SET alert_template_name = 'owner_alert', alert_template_language = 'en'
              WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')",
        )
        .unwrap();
    assert_eq!(
        a.d.post(&text_now(
            "254711000001",
            "I want a human please",
            "wamid.ask.2"
        ))
        .0,
        200
    );
    let requests = a.d.meta.wait_until(LONG, "the template to Gideon", |r| {
        sends_to(r, GIDEON)
            .iter()
            .any(|s| s.body["type"] == "template")
    });
    let template = sends_to(&requests, GIDEON)
        .into_iter()
        .find(|s| s.body["type"] == "template")
        .unwrap();
    assert_eq!(template.body["template"]["name"], "owner_alert");
    assert_eq!(template.body["template"]["language"]["code"], "en");
    let parameter = &template.body["template"]["components"][0]["parameters"][0];
    assert_eq!(parameter["type"], "text");
    assert!(parameter["text"]
        .as_str()
        .unwrap()
        .contains("asked for a person"));
    assert!(
        template.violations.is_empty(),
        "Meta's spec: {:?}",
        template.violations
    );
    assert!(
        sends_to(&requests, GIDEON)
            .iter()
            .all(|s| s.body["type"] != "text"),
        "no free-form text outside the window"
    );
    a.d.wait_until_idle(LONG);
    assert_eq!(
        alert_row(&a.d, "handoff"),
        ("sent".into(), Some("whatsapp_template".into()))
    );
}

/// The alert that a token is dead must not wait with the tenant's paused sends, nor go through
/// the number whose token died: email to the owner and the operator's webhook, at once.
#[test]
fn a_tenant_whose_token_was_refused_is_alerted_by_email_and_the_operator_only() {
    let a = start();
    a.d.db()
        .batch_execute(
            "UPDATE alphadome.bot_tenants SET credential_status = 'needs_reauth' WHERE slug = 'kassangas';
             SELECT alphadome.enqueue_credential_alerts();",
        )
        .unwrap();
    let mails = a.smtp.wait_for(2, LONG);
    let owner = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t.contains("gideon@kassangas.test")))
        .expect("the owner's email");
    assert!(
        owner
            .data
            .contains("Subject: [AlphaDome] Kassangas Music Shop: credentials"),
        "{}",
        owner.data
    );
    assert!(
        owner
            .text()
            .contains("the WhatsApp access token needs attention (needs_reauth)"),
        "{}",
        owner.text()
    );
    assert!(
        mails
            .iter()
            .any(|m| m.to.iter().any(|t| t.contains("ops@alphadome.test"))),
        "the operator's email"
    );
    let hooks = a
        .hook
        .wait_until(LONG, "the operator's webhook", |r| !r.is_empty());
    assert_eq!(hooks[0].body["tenant"], "kassangas");
    assert_eq!(hooks[0].body["kind"], "credentials");
    assert!(hooks[0].body["text"]
        .as_str()
        .unwrap()
        .contains("needs attention"));
    a.d.wait_until_idle(LONG);
    assert_eq!(
        alert_row(&a.d, "credentials"),
        ("sent".into(), Some("email+operator".into()))
    );
    assert!(
        sends_to(&a.d.meta.requests(), GIDEON).is_empty(),
        "nothing through the dead token"
    );
    a.d.assert_no_secret_in_logs();
}

/// A channel that fails falls through to the next: a template Meta does not know, then email
/// and the operator. With every channel down, the alert is retried and never marked sent.
#[test]
fn a_failed_channel_falls_through_and_nothing_is_marked_sent_that_was_not() {
    let a = start();
    a.d.db()
        .batch_execute(
            "UPDATE alphadome.bot_control_settings SET alert_template_name = 'no_such_template'
              WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')",
        )
        .unwrap();
    a.d.meta.always(Some(alphadome_e2e::mock::Scripted {
        status: 400,
        body: meta_error(132001, "Template name does not exist in the translation"),
        delay: Duration::ZERO,
    }));
    a.smtp.refuse(true);
    a.hook.always(Some(alphadome_e2e::mock::Scripted {
        status: 503,
        body: json!({}),
        delay: Duration::ZERO,
    }));
    assert_eq!(
        a.d.post(&text_now("254711000002", "human", "wamid.ask.3"))
            .0,
        200
    );
    a.d.wait_for(
        "a failed attempt",
        "SELECT attempts >= 1 AND status = 'queued' AND last_error ->> 'message' LIKE 'every channel failed%' FROM alphadome.alerts WHERE kind = 'handoff'",
        LONG,
    );
    assert_eq!(alert_row(&a.d, "handoff").0, "queued", "not marked sent");
    // Email and the webhook come back: the next attempt goes through them.
    a.smtp.refuse(false);
    a.hook.always(None);
    a.d.wait_for(
        "the alert sent",
        "SELECT status = 'sent' FROM alphadome.alerts WHERE kind = 'handoff'",
        Duration::from_secs(60),
    );
    assert_eq!(
        alert_row(&a.d, "handoff"),
        ("sent".into(), Some("email+operator".into()))
    );
    assert!(!a.smtp.mails().is_empty());
}

/// Outside business hours a customer who asks for a person is told when the shop opens, and
/// the alert waits for the opening.
#[test]
fn after_hours_the_customer_is_told_when_and_the_alert_waits() {
    let a = start();
    a.d.db()
        .batch_execute(
            "UPDATE alphadome.bot_control_settings
                SET business_hours = jsonb_build_object(
                        (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[extract(dow FROM (now() AT TIME ZONE 'Africa/Nairobi') + interval '3 days')::int + 1],
                        '[[\"09:00\", \"18:00\"]]'::jsonb)
              WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')",
        )
        .unwrap();
    assert_eq!(
        a.d.post(&text_now("254711000003", "I need a person", "wamid.night"))
            .0,
        200
    );
    let requests = a.d.meta.wait_until(LONG, "the after-hours reply", |r| {
        !sends_to(r, "254711000003").is_empty()
    });
    let reply = sends_to(&requests, "254711000003")[0].body["text"]["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reply.contains("closed now") && reply.contains(" at 9 AM"),
        "{reply}"
    );
    let (decision, waits): (String, bool) = {
        let row = a
            .d
            .db()
            .query_one(
                "SELECT (SELECT decision FROM alphadome.messages WHERE wamid = 'wamid.night'),
                        (SELECT due_at > now() + interval '1 day' AND status = 'queued' FROM alphadome.alerts WHERE kind = 'handoff')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((decision.as_str(), waits), ("after_hours", true));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        sends_to(&a.d.meta.requests(), GIDEON).is_empty() && a.smtp.mails().is_empty(),
        "nobody is woken at night"
    );
}
