//! alert.send: an alert to a person, by the first channel that takes it.
use super::outbound::{callback_data, Outbound};
use crate::clients::meta::Outgoing;
use crate::clients::{Class, Failure};
use crate::contract::{AlertCall, WhatsApp};
use serde_json::{json, Value};

/// An alert, by the first channel that takes it: WhatsApp text or template in the order
/// given; failing those (or without them), email to the owner and to the operator, both.
/// A refused token stops at once (fail_job pauses the tenant; the next attempt goes by
/// email). Nothing is reported sent that was not.
pub async fn deliver(
    out: &Outbound,
    job: i64,
    tenant: &str,
    alert: &AlertCall,
    whatsapp: Option<&WhatsApp>,
) -> Result<Value, Failure> {
    let callback = callback_data(job);
    let wanted = |channel: &str| alert.channels.iter().any(|c| c == channel);
    if out.dry_run {
        let first = alert
            .channels
            .first()
            .map(String::as_str)
            .unwrap_or("operator");
        return Ok(json!({"channel": first, "status": "simulated"}));
    }
    let mut failures: Vec<String> = Vec::new();
    for channel in alert.channels.iter().filter(|c| c.starts_with("whatsapp_")) {
        let (Some(whatsapp), Some(to)) = (whatsapp, alert.to.as_deref()) else {
            continue;
        };
        let (id, token) = (
            whatsapp.phone_number_id.as_str(),
            whatsapp.access_token.expose(),
        );
        let sent = match (channel.as_str(), &alert.template) {
            ("whatsapp_text", _) => {
                let message = Outgoing {
                    phone_number_id: id,
                    token,
                    to: Some(to),
                    recipient: None,
                    text: &alert.text,
                    context: None,
                    callback: Some(&callback),
                };
                out.timed_meta(out.meta.send_text(&message)).await
            }
            ("whatsapp_template", Some(template)) => {
                out.timed_meta(out.meta.send_template(
                    id,
                    token,
                    to,
                    template,
                    &alert.text,
                    &callback,
                ))
                .await
            }
            _ => continue,
        };
        match sent {
            Ok(wamid) => return Ok(json!({"channel": channel, "wamid": wamid, "status": "sent"})),
            Err(f) if f.class == Class::Auth => return Err(f),
            Err(f) => failures.push(format!("{channel}: {}", f.message)),
        }
    }
    let subject = format!(
        "[AlphaDome] {}: {}",
        alert.tenant_name,
        alert.kind.replace('_', " ")
    );
    let mut delivered: Vec<&str> = Vec::new();
    if let (true, Some(email), Some(to)) = (wanted("email"), &out.email, alert.email.as_deref()) {
        match email.send(to, &subject, &alert.text).await {
            Ok(()) => delivered.push("email"),
            Err(f) => failures.push(format!("email: {}", f.message)),
        }
    }
    if wanted("operator") {
        let mut reached = false;
        if let Some(hook) = &out.operator_hook {
            match hook.post(&alert.text, tenant, &alert.kind).await {
                Ok(()) => reached = true,
                Err(f) => failures.push(format!("operator webhook: {}", f.message)),
            }
        }
        if let (Some(email), Some(to)) = (&out.email, out.operator_email.as_deref()) {
            match email
                .send(to, &format!("{subject} ({tenant})"), &alert.text)
                .await
            {
                Ok(()) => reached = true,
                Err(f) => failures.push(format!("operator email: {}", f.message)),
            }
        }
        if reached {
            delivered.push("operator");
        }
    }
    if !delivered.is_empty() {
        return Ok(json!({"channel": delivered.join("+"), "status": "sent"}));
    }
    if failures.is_empty() {
        return Err(Failure::new(
            Class::Permanent,
            "no channel can carry this alert: set the tenant's alert template, ALPHADOME_SMTP_URL or ALPHADOME_OPERATOR_WEBHOOK_URL",
        ));
    }
    Err(Failure::new(
        Class::Transient,
        format!("every channel failed: {}", failures.join("; ")),
    ))
}
