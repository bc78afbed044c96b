//! campaign.send: one campaign's template to one customer, at the number's pace (campaign_rate
//! messages a second). campaign_chores queues the jobs due 1/rate apart; the pacer here keeps
//! the sends apart when a claim takes several at once (after a poll), without holding a lane's
//! permit while it waits.
use super::outbound::Outbound;
use crate::clients::meta::{Message, Outgoing};
use crate::clients::Failure;
use crate::contract::{CampaignMessage, WhatsApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub async fn send(
    out: &Outbound,
    whatsapp: &WhatsApp,
    payload: &CampaignMessage,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(json!({"status": "simulated"}));
    }
    let callback = callback_data(payload.recipient_id);
    let message = outgoing(whatsapp, payload, &callback);
    let wamid = out.timed_meta(out.meta.send(&message)).await?;
    Ok(json!({"wamid": wamid, "status": "sent"}))
}

/// The send's biz_opaque_callback_data: Meta echoes it in the status webhooks, which update the
/// recipient row and complete its job whoever sent it (campaigns.sql reads "campaign:<id>").
fn callback_data(recipient_id: i64) -> String {
    format!("campaign:{recipient_id}")
}

/// The template as Meta's client takes it, to the customer's phone (or business-scoped id).
fn outgoing<'a>(
    whatsapp: &'a WhatsApp,
    payload: &'a CampaignMessage,
    callback: &'a str,
) -> Outgoing<'a> {
    Outgoing {
        callback: Some(callback),
        phone_number_id: &whatsapp.phone_number_id,
        token: whatsapp.access_token.expose(),
        to: payload.to.as_deref(),
        recipient: payload.recipient.as_deref(),
        message: Message::Template {
            name: &payload.template.name,
            language: &payload.template.language,
            parameters: &payload.template.parameters,
        },
        context: None,
    }
}

/// The next free moment of each number: sends of one number at least 1/rate apart.
#[derive(Default)]
pub struct Pacer {
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// When a send from this number may go: now, or 1/rate after the one before it; the slot
    /// is taken.
    pub fn slot(&self, phone_number_id: &str, rate: u32, now: Instant) -> Instant {
        let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        // Numbers idle for a while are forgotten, so the map does not grow for ever.
        if next.len() > 10_000 {
            next.retain(|_, at| *at > now);
        }
        let at = next.entry(phone_number_id.to_string()).or_insert(now);
        let slot = (*at).max(now);
        *at = slot + gap;
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Secret, TemplateSend};

    #[test]
    fn the_template_goes_to_the_customer_naming_the_recipient_row() {
        let whatsapp = WhatsApp {
            phone_number_id: "1098".into(),
            access_token: Secret::new("EAAtest-x".into()),
        };
        let payload = CampaignMessage {
            recipient_id: 77,
            rate: 20,
            to: Some("254700000001".into()),
            recipient: None,
            template: TemplateSend {
                name: "december_sale".into(),
                language: "en".into(),
                parameters: vec!["Wanjiru".into()],
            },
        };
        let callback = callback_data(payload.recipient_id);
        let out = outgoing(&whatsapp, &payload, &callback);
        assert_eq!(out.callback, Some("campaign:77"));
        assert_eq!((out.to, out.context), (Some("254700000001"), None));
        assert_eq!(
            out.message,
            Message::Template {
                name: "december_sale",
                language: "en",
                parameters: &["Wanjiru".to_string()]
            }
        );
    }

    #[test]
    fn sends_of_one_number_are_paced_and_other_numbers_are_not_held_up() {
        let pacer = Pacer::default();
        let now = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| pacer.slot("1", 20, now) - now).collect();
        assert_eq!(
            slots,
            (0..5)
                .map(|i| Duration::from_millis(50 * i))
                .collect::<Vec<_>>()
        );
        assert_eq!(pacer.slot("2", 20, now), now, "another number goes at once");
        let later = now + Duration::from_secs(10);
        assert_eq!(
            pacer.slot("1", 20, later),
            later,
            "an idle number starts again now, not in the past"
        );
    }
}
