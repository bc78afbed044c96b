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
use std::sync::{Arc, Mutex};
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

/// Each number's last campaign send: the next one waits until 1/rate after it, counted from
/// when it actually left (a busy machine wakes sleepers late, and late sleepers would otherwise
/// go out together), with 2% to spare for the network bringing two sends closer on the way.
#[derive(Default)]
pub struct Pacer {
    numbers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

/// The time between two sends of a number at `rate` a second.
fn gap(rate: u32) -> Duration {
    Duration::from_secs_f64(1.02 / f64::from(rate.max(1)))
}

impl Pacer {
    /// Waits for this number's turn: sends wait in the order they asked.
    pub async fn wait(&self, phone_number_id: &str, rate: u32) {
        let gate = {
            let mut numbers = self.numbers.lock().unwrap_or_else(|e| e.into_inner());
            // Numbers nobody waits for are forgotten, so the map does not grow for ever.
            if numbers.len() > 10_000 {
                numbers.retain(|_, gate| Arc::strong_count(gate) > 1);
            }
            numbers
                .entry(phone_number_id.to_string())
                .or_default()
                .clone()
        };
        let mut last = gate.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + gap(rate)).await;
        }
        *last = Some(Instant::now());
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

    #[tokio::test]
    async fn sends_of_one_number_leave_at_least_a_gap_apart_and_other_numbers_go_at_once() {
        let pacer = Pacer::default();
        let mut left = Vec::new();
        for _ in 0..5 {
            pacer.wait("1", 100).await;
            left.push(Instant::now());
        }
        for pair in left.windows(2) {
            assert!(pair[1] - pair[0] >= gap(100), "{:?}", pair[1] - pair[0]);
        }
        let other = Instant::now();
        pacer.wait("2", 100).await;
        assert!(other.elapsed() < gap(100), "another number is not held up");
        assert!(
            gap(20) > Duration::from_millis(50),
            "a little under 20 a second"
        );
    }
}
