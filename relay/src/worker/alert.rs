//! alert.send: an alert to a person, by the first channel that takes it. claim_jobs chose the
//! channels and their order (Meta's 24-hour rule: free-form text when the escalation phone wrote
//! within 24 hours, else the tenant's approved template; email and the operator otherwise and
//! for a refused token). Here `plan` says who is tried with what, the calls are made, and
//! `Delivery` says what their results come to: a failed channel falls through to the next, and
//! nothing is reported sent that was not.
use super::outbound::{callback_data, Outbound};
use crate::clients::meta::{Message, Outgoing};
use crate::clients::{Class, Failure};
use crate::contract::{AlertCall, Template, WhatsApp};
use serde_json::{json, Value};

pub async fn deliver(
    out: &Outbound,
    job: i64,
    tenant: &str,
    alert: &AlertCall,
    whatsapp: Option<&WhatsApp>,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(simulated(alert));
    }
    let plan = plan(alert, whatsapp, configured(out));
    let link = conversation_link(out.console_url.as_deref(), alert.conversation_id);
    let mut delivery = Delivery::default();
    if let Some(by) = &plan.whatsapp {
        let callback = callback_data(job);
        for message in &by.messages {
            let sent =
                send_whatsapp(out, by, message, &alert.text, link.as_deref(), &callback).await;
            if let Some(end) = delivery.whatsapp(message, sent) {
                return end;
            }
        }
    }
    let text = alert_text(&alert.text, link.as_deref(), usize::MAX);
    let subject = subject(alert);
    if let (Some(email), Some(to)) = (&out.email, plan.owner_email) {
        delivery.owner_email(email.send(to, &subject, &text).await);
    }
    let hook = match (&out.operator_hook, plan.operator_hook) {
        (Some(hook), true) => Some(hook.post(&text, tenant, &alert.kind).await),
        _ => None,
    };
    let email = match (&out.email, plan.operator_email) {
        (Some(email), Some(to)) => {
            let subject = operator_subject(&subject, tenant);
            Some(email.send(to, &subject, &text).await)
        }
        _ => None,
    };
    delivery.operator(hook, email);
    delivery.verdict()
}

/// Meta's bounds: a text's body, a template's body parameter.
const TEXT_CHARS: usize = 4096;
const PARAMETER_CHARS: usize = 1024;

async fn send_whatsapp(
    out: &Outbound,
    by: &ByWhatsApp<'_>,
    message: &WhatsAppAlert<'_>,
    text: &str,
    link: Option<&str>,
    callback: &str,
) -> Result<String, Failure> {
    // The alert's first characters carry its point; the link stays whole at the end.
    let text = match message {
        WhatsAppAlert::Text => alert_text(text, link, TEXT_CHARS),
        WhatsAppAlert::Template(_) => alert_text(text, link, PARAMETER_CHARS),
    };
    let message = match message {
        WhatsAppAlert::Text => Message::Text(&text),
        WhatsAppAlert::Template(template) => Message::Template {
            name: &template.name,
            language: &template.language,
            parameters: std::slice::from_ref(&text),
        },
    };
    let outgoing = Outgoing {
        phone_number_id: &by.from.phone_number_id,
        token: by.from.access_token.expose(),
        to: Some(by.to),
        recipient: None,
        message,
        context: None,
        callback: Some(callback),
    };
    out.timed_meta(out.meta.send(&outgoing)).await
}

/// The console's page of the customer's conversation an alert is about, when the relay knows
/// the console's address (ALPHADOME_CONSOLE_PUBLIC_URL) and the alert names a conversation.
fn conversation_link(console: Option<&str>, conversation: Option<i64>) -> Option<String> {
    let console = console.map(|c| c.trim().trim_end_matches('/'))?;
    match (console, conversation) {
        ("", _) | (_, None) => None,
        (console, Some(id)) => Some(format!("{console}/conversations/{id}")),
    }
}

/// The alert's text, at most `max_chars` long, ending with the link on a line of its own.
fn alert_text(text: &str, link: Option<&str>, max_chars: usize) -> String {
    let room = link.map_or(0, |link| link.chars().count() + 1);
    let mut out: String = text.chars().take(max_chars.saturating_sub(room)).collect();
    if let Some(link) = link {
        out.push('\n');
        out.push_str(link);
    }
    out
}

/// The relay's own alert channels, as configured.
#[derive(Debug, Clone, Copy)]
struct Configured<'a> {
    /// ALPHADOME_SMTP_URL is set.
    email: bool,
    /// ALPHADOME_OPERATOR_WEBHOOK_URL is set.
    operator_hook: bool,
    /// ALPHADOME_OPERATOR_EMAIL.
    operator_email: Option<&'a str>,
}

fn configured(out: &Outbound) -> Configured<'_> {
    Configured {
        email: out.email.is_some(),
        operator_hook: out.operator_hook.is_some(),
        operator_email: out.operator_email.as_deref(),
    }
}

/// A WhatsApp message an alert can go as.
#[derive(Debug)]
enum WhatsAppAlert<'a> {
    /// Free-form text (inside the 24-hour window).
    Text,
    /// The tenant's approved template, the alert as its one parameter.
    Template(&'a Template),
}

impl WhatsAppAlert<'_> {
    /// Its channel's name, as claim_jobs gives it.
    fn channel(&self) -> &'static str {
        match self {
            WhatsAppAlert::Text => "whatsapp_text",
            WhatsAppAlert::Template(_) => "whatsapp_template",
        }
    }
}

/// The escalation phone, from the tenant's number.
struct ByWhatsApp<'a> {
    from: &'a WhatsApp,
    to: &'a str,
    /// In claim_jobs' order; the first that Meta takes ends the alert.
    messages: Vec<WhatsAppAlert<'a>>,
}

/// Who an alert is tried with: WhatsApp first, then the owner's email and the operator, both.
struct Plan<'a> {
    whatsapp: Option<ByWhatsApp<'a>>,
    /// The owner's address, when email is a channel and SMTP is configured.
    owner_email: Option<&'a str>,
    /// The operator's webhook is posted to.
    operator_hook: bool,
    /// The operator's address, when SMTP is configured.
    operator_email: Option<&'a str>,
}

/// The channels of `alert` that can be tried: WhatsApp ones need the tenant's number and token
/// and the escalation phone (a template channel also the template); email and the operator need
/// the relay's configuration.
fn plan<'a>(
    alert: &'a AlertCall,
    whatsapp: Option<&'a WhatsApp>,
    configured: Configured<'a>,
) -> Plan<'a> {
    let wanted = |channel: &str| alert.channels.iter().any(|c| c == channel);
    let messages: Vec<WhatsAppAlert> = alert
        .channels
        .iter()
        .filter_map(|channel| match (channel.as_str(), &alert.template) {
            ("whatsapp_text", _) => Some(WhatsAppAlert::Text),
            ("whatsapp_template", Some(template)) => Some(WhatsAppAlert::Template(template)),
            _ => None,
        })
        .collect();
    let by_whatsapp = match (whatsapp, alert.to.as_deref()) {
        (Some(from), Some(to)) if !messages.is_empty() => Some(ByWhatsApp { from, to, messages }),
        _ => None,
    };
    let operator = wanted("operator");
    Plan {
        whatsapp: by_whatsapp,
        owner_email: alert
            .email
            .as_deref()
            .filter(|_| wanted("email") && configured.email),
        operator_hook: operator && configured.operator_hook,
        operator_email: configured
            .operator_email
            .filter(|_| operator && configured.email),
    }
}

/// What an alert's calls have come to so far.
#[derive(Debug, Default)]
struct Delivery {
    /// "email", "operator": the channels that took it.
    delivered: Vec<&'static str>,
    /// "<channel>: <why>", for fail_job.
    failures: Vec<String>,
}

impl Delivery {
    /// A WhatsApp message's result; Some when it ends the alert: sent, or the token refused
    /// (fail_job pauses the tenant, and the next attempt goes by email).
    fn whatsapp(
        &mut self,
        message: &WhatsAppAlert,
        sent: Result<String, Failure>,
    ) -> Option<Result<Value, Failure>> {
        let channel = message.channel();
        match sent {
            Ok(wamid) => Some(Ok(
                json!({"channel": channel, "wamid": wamid, "status": "sent"}),
            )),
            Err(f) if f.class == Class::Auth => Some(Err(f)),
            Err(f) => {
                self.failures.push(format!("{channel}: {}", f.message));
                None
            }
        }
    }

    fn owner_email(&mut self, sent: Result<(), Failure>) {
        match sent {
            Ok(()) => self.delivered.push("email"),
            Err(f) => self.failures.push(format!("email: {}", f.message)),
        }
    }

    /// The operator is reached when the webhook or the email took it (None: not tried).
    fn operator(&mut self, hook: Option<Result<(), Failure>>, email: Option<Result<(), Failure>>) {
        let mut reached = false;
        for (channel, sent) in [("operator webhook", hook), ("operator email", email)] {
            match sent {
                Some(Ok(())) => reached = true,
                Some(Err(f)) => self.failures.push(format!("{channel}: {}", f.message)),
                None => {}
            }
        }
        if reached {
            self.delivered.push("operator");
        }
    }

    /// Sent when a channel took it; else retried when one failed (it may take it next time),
    /// else failed for good: nothing here can carry it.
    fn verdict(self) -> Result<Value, Failure> {
        if !self.delivered.is_empty() {
            return Ok(json!({"channel": self.delivered.join("+"), "status": "sent"}));
        }
        if self.failures.is_empty() {
            return Err(Failure::new(
                Class::Permanent,
                "no channel can carry this alert: set the tenant's alert template, ALPHADOME_SMTP_URL or ALPHADOME_OPERATOR_WEBHOOK_URL",
            ));
        }
        Err(Failure::new(
            Class::Transient,
            format!("every channel failed: {}", self.failures.join("; ")),
        ))
    }
}

/// A dry run's result: the first channel claim_jobs chose.
fn simulated(alert: &AlertCall) -> Value {
    let first = alert
        .channels
        .first()
        .map(String::as_str)
        .unwrap_or("operator");
    json!({"channel": first, "status": "simulated"})
}

/// The owner's email subject: the tenant's name and what happened.
fn subject(alert: &AlertCall) -> String {
    format!(
        "[AlphaDome] {}: {}",
        alert.tenant_name,
        alert.kind.replace('_', " ")
    )
}

/// The operator serves many tenants: the subject names which (its slug).
fn operator_subject(subject: &str, tenant: &str) -> String {
    format!("{subject} ({tenant})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Secret;

    fn alert(channels: &[&str], template: bool) -> AlertCall {
        AlertCall {
            text: "Wanjiru asks for a person".into(),
            kind: "human_handoff".into(),
            tenant_name: "Kassangas".into(),
            to: Some("254700000009".into()),
            email: Some("owner@example.test".into()),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            template: template.then(|| Template {
                name: "staff_alert".into(),
                language: "en".into(),
            }),
            conversation_id: Some(42),
        }
    }

    fn whatsapp() -> WhatsApp {
        WhatsApp {
            phone_number_id: "1098".into(),
            access_token: Secret::new("EAAtest-x".into()),
        }
    }

    const EVERYTHING: Configured<'static> = Configured {
        email: true,
        operator_hook: true,
        operator_email: Some("ops@example.test"),
    };

    const NOTHING: Configured<'static> = Configured {
        email: false,
        operator_hook: false,
        operator_email: None,
    };

    fn channels(plan: &Plan) -> Vec<&'static str> {
        let by = plan.whatsapp.as_ref();
        by.map_or(vec![], |by| {
            by.messages.iter().map(|m| m.channel()).collect()
        })
    }

    fn failed(class: Class, message: &str) -> Failure {
        Failure::new(class, message)
    }

    #[test]
    fn whatsapp_messages_are_tried_in_the_order_claim_jobs_chose() {
        let (whatsapp, alert) = (
            whatsapp(),
            alert(&["whatsapp_template", "whatsapp_text", "email"], true),
        );
        let plan = plan(&alert, Some(&whatsapp), EVERYTHING);
        assert_eq!(channels(&plan), ["whatsapp_template", "whatsapp_text"]);
        let by = plan.whatsapp.as_ref().unwrap();
        assert_eq!(
            (by.to, by.from.phone_number_id.as_str()),
            ("254700000009", "1098")
        );
        let WhatsAppAlert::Template(template) = &by.messages[0] else {
            panic!("the template comes first")
        };
        assert_eq!(template.name, "staff_alert");
    }

    #[test]
    fn whatsapp_is_not_tried_without_the_token_the_phone_or_the_template() {
        let whatsapp = whatsapp();
        let text = alert(&["whatsapp_text", "email"], false);
        assert!(plan(&text, None, EVERYTHING).whatsapp.is_none(), "no token");
        let no_phone = AlertCall {
            to: None,
            ..alert(&["whatsapp_text", "email"], false)
        };
        assert!(plan(&no_phone, Some(&whatsapp), EVERYTHING)
            .whatsapp
            .is_none());
        let no_template = alert(&["whatsapp_template", "email"], false);
        let plan = plan(&no_template, Some(&whatsapp), EVERYTHING);
        assert!(
            plan.whatsapp.is_none(),
            "a template channel without a template"
        );
        assert_eq!(
            plan.owner_email,
            Some("owner@example.test"),
            "email still is"
        );
    }

    #[test]
    fn email_and_the_operator_are_tried_only_when_chosen_and_configured() {
        let chosen = alert(&["email", "operator"], false);
        let all = plan(&chosen, None, EVERYTHING);
        assert_eq!(all.owner_email, Some("owner@example.test"));
        assert!(all.operator_hook);
        assert_eq!(all.operator_email, Some("ops@example.test"));

        let none = plan(&chosen, None, NOTHING);
        assert_eq!(
            (none.owner_email, none.operator_hook, none.operator_email),
            (None, false, None)
        );

        let hook_only = Configured {
            operator_hook: true,
            // An operator address without SMTP cannot be written to.
            operator_email: Some("ops@example.test"),
            email: false,
        };
        let hook = plan(&chosen, None, hook_only);
        assert_eq!(
            (hook.owner_email, hook.operator_hook, hook.operator_email),
            (None, true, None)
        );

        let email = alert(&["email"], false);
        let owner_only = plan(&email, None, EVERYTHING);
        assert_eq!(owner_only.owner_email, Some("owner@example.test"));
        assert!(!owner_only.operator_hook && owner_only.operator_email.is_none());

        let operator = alert(&["operator"], false);
        let operator_only = plan(&operator, None, EVERYTHING);
        assert_eq!(operator_only.owner_email, None, "email not chosen");
        assert!(operator_only.operator_hook);

        let no_address = AlertCall {
            email: None,
            ..alert(&["email"], false)
        };
        assert_eq!(plan(&no_address, None, EVERYTHING).owner_email, None);
    }

    #[test]
    fn the_first_whatsapp_message_meta_takes_ends_the_alert_as_sent() {
        let mut delivery = Delivery::default();
        let end = delivery.whatsapp(&WhatsAppAlert::Text, Ok("wamid.out".into()));
        assert_eq!(
            end.unwrap().unwrap(),
            json!({"channel": "whatsapp_text", "wamid": "wamid.out", "status": "sent"})
        );
    }

    #[test]
    fn a_failed_whatsapp_message_falls_through_to_email() {
        let template = Template {
            name: "staff_alert".into(),
            language: "en".into(),
        };
        let mut delivery = Delivery::default();
        let unknown = failed(Class::Permanent, "template name does not exist");
        assert!(delivery
            .whatsapp(&WhatsAppAlert::Template(&template), Err(unknown))
            .is_none());
        let throttled = failed(Class::Throttle, "too many messages");
        assert!(delivery
            .whatsapp(&WhatsAppAlert::Text, Err(throttled))
            .is_none());
        delivery.owner_email(Ok(()));
        delivery.operator(None, None);
        assert_eq!(
            delivery.verdict().unwrap(),
            json!({"channel": "email", "status": "sent"})
        );
    }

    #[test]
    fn a_refused_token_ends_the_alert_at_once_with_the_refusal() {
        let mut delivery = Delivery::default();
        let refused = failed(Class::Auth, "Error validating access token");
        let end = delivery.whatsapp(&WhatsAppAlert::Text, Err(refused));
        let failure = end.expect("the alert ends").unwrap_err();
        assert_eq!(failure.class, Class::Auth, "fail_job pauses the tenant");
    }

    #[test]
    fn the_operator_is_reached_by_either_of_its_channels() {
        let mut delivery = Delivery::default();
        delivery.owner_email(Ok(()));
        let down = failed(Class::Transient, "the operator's webhook answered 503");
        delivery.operator(Some(Err(down)), Some(Ok(())));
        assert_eq!(
            delivery.verdict().unwrap(),
            json!({"channel": "email+operator", "status": "sent"})
        );
        let mut hook_only = Delivery::default();
        hook_only.operator(Some(Ok(())), None);
        assert_eq!(hook_only.verdict().unwrap()["channel"], "operator");
    }

    #[test]
    fn with_every_channel_failed_nothing_is_sent_and_the_alert_is_retried_with_each_reason() {
        let mut delivery = Delivery::default();
        let text = WhatsAppAlert::Text;
        assert!(delivery
            .whatsapp(&text, Err(failed(Class::Transient, "timed out")))
            .is_none());
        delivery.owner_email(Err(failed(Class::Transient, "SMTP refused")));
        delivery.operator(
            Some(Err(failed(Class::Transient, "answered 502"))),
            Some(Err(failed(Class::Transient, "SMTP refused"))),
        );
        let failure = delivery.verdict().unwrap_err();
        assert_eq!(failure.class, Class::Transient);
        assert_eq!(
            failure.message,
            "every channel failed: whatsapp_text: timed out; email: SMTP refused; \
             operator webhook: answered 502; operator email: SMTP refused"
        );
    }

    #[test]
    fn with_no_channel_to_try_the_alert_fails_for_good() {
        let failure = Delivery::default().verdict().unwrap_err();
        assert_eq!(failure.class, Class::Permanent);
        assert!(failure
            .message
            .starts_with("no channel can carry this alert"));
    }

    #[test]
    fn a_dry_run_names_the_first_channel_chosen() {
        let both = alert(&["whatsapp_text", "email"], false);
        assert_eq!(
            simulated(&both),
            json!({"channel": "whatsapp_text", "status": "simulated"})
        );
        assert_eq!(simulated(&alert(&[], false))["channel"], "operator");
    }

    #[test]
    fn an_alert_about_a_customer_ends_with_the_link_to_the_conversation() {
        let link = conversation_link(Some("https://console.alphadome.test/"), Some(42));
        assert_eq!(
            link.as_deref(),
            Some("https://console.alphadome.test/conversations/42")
        );
        assert_eq!(
            alert_text("Wanjiru asks for a person", link.as_deref(), usize::MAX),
            "Wanjiru asks for a person\nhttps://console.alphadome.test/conversations/42"
        );
        assert_eq!(conversation_link(None, Some(42)), None, "no console");
        assert_eq!(conversation_link(Some(" "), Some(42)), None, "no console");
        assert_eq!(
            conversation_link(Some("https://c.test"), None),
            None,
            "not about a customer"
        );
        assert_eq!(
            alert_text("Token expiring", None, usize::MAX),
            "Token expiring"
        );
    }

    #[test]
    fn a_long_alert_is_cut_before_the_link_not_through_it() {
        let link = "https://c.test/conversations/7";
        let long = "x".repeat(2000);
        let parameter = alert_text(&long, Some(link), PARAMETER_CHARS);
        assert_eq!(parameter.chars().count(), PARAMETER_CHARS);
        assert!(parameter.ends_with("x\nhttps://c.test/conversations/7"));
        assert_eq!(alert_text(&long, None, TEXT_CHARS), long);
    }

    #[test]
    fn subjects_say_what_happened_and_to_the_operator_for_which_tenant() {
        let subject = subject(&alert(&[], false));
        assert_eq!(subject, "[AlphaDome] Kassangas: human handoff");
        assert_eq!(
            operator_subject(&subject, "kassangas"),
            "[AlphaDome] Kassangas: human handoff (kassangas)"
        );
    }
}
