//! reply.send: an answer to the customer on WhatsApp (the bot's or a person's: a text, or one
//! of the shop's templates), the message it answers marked read first.
use super::outbound::{callback_data, Outbound};
use crate::clients::meta::{Message, Outgoing};
use crate::clients::{Class, Failure};
use crate::contract::{Interactive, Send, WhatsApp};
use serde_json::{json, Value};

pub async fn reply(
    out: &Outbound,
    job: i64,
    whatsapp: &WhatsApp,
    payload: &Send,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(json!({"status": "simulated"}));
    }
    if let Some(problem) = payload
        .interactive
        .as_ref()
        .and_then(|i| i.problem(&payload.text))
    {
        return Err(Failure::new(Class::Permanent, problem));
    }
    let callback = callback_data(job);
    let message = outgoing(whatsapp, payload, &callback);
    if let Some(inbound) = message.context {
        // Blue ticks first, as a person would.
        let read = out
            .timed_meta(
                out.meta
                    .mark_read(message.phone_number_id, message.token, inbound),
            )
            .await;
        if let Err(f) = read {
            tracing::warn!(class = f.label(), code = f.code, "read receipt failed");
            if read_receipt_failure_stops_the_answer(&f) {
                return Err(f);
            }
        }
    }
    let wamid = out.timed_meta(out.meta.send(&message)).await?;
    Ok(json!({"wamid": wamid, "status": "sent"}))
}

/// The answer as Meta's client takes it: to the customer's phone (or business-scoped id),
/// quoting the message it answers; a template's rendered text stays in the log.
fn outgoing<'a>(whatsapp: &'a WhatsApp, payload: &'a Send, callback: &'a str) -> Outgoing<'a> {
    let message = match (&payload.template, &payload.interactive) {
        (Some(template), _) => Message::Template {
            name: &template.name,
            language: &template.language,
            parameters: &template.parameters,
        },
        (None, Some(Interactive::Button { buttons })) => Message::Buttons {
            text: &payload.text,
            buttons,
        },
        (None, Some(Interactive::List { button, rows })) => Message::List {
            text: &payload.text,
            button,
            rows,
        },
        (None, None) => Message::Text(&payload.text),
    };
    Outgoing {
        callback: Some(callback),
        phone_number_id: &whatsapp.phone_number_id,
        token: whatsapp.access_token.expose(),
        to: payload.to.as_deref(),
        recipient: payload.recipient.as_deref(),
        message,
        context: payload.context_wamid.as_deref(),
    }
}

/// A failed read receipt loses only the blue ticks, and must not stop the answer; but a refused
/// token would refuse the answer too, and fail_job must hear of it to pause the tenant.
fn read_receipt_failure_stops_the_answer(failure: &Failure) -> bool {
    failure.class == Class::Auth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Secret, TemplateSend};

    fn whatsapp() -> WhatsApp {
        WhatsApp {
            phone_number_id: "1098".into(),
            access_token: Secret::new("EAAtest-x".into()),
        }
    }

    /// A text to a customer's phone, answering nothing.
    fn text(text: &str) -> Send {
        Send {
            to: Some("254700000001".into()),
            recipient: None,
            text: text.into(),
            context_wamid: None,
            template: None,
            interactive: None,
        }
    }

    #[test]
    fn the_answer_goes_from_the_tenants_number_quoting_the_message_it_answers() {
        let payload = Send {
            context_wamid: Some("wamid.in".into()),
            ..text("We open at 8.")
        };
        let (whatsapp, callback) = (whatsapp(), callback_data(7));
        let out = outgoing(&whatsapp, &payload, &callback);
        assert_eq!(
            (out.phone_number_id, out.token, out.message),
            ("1098", "EAAtest-x", Message::Text("We open at 8."))
        );
        assert_eq!((out.to, out.recipient), (Some("254700000001"), None));
        assert_eq!(out.context, Some("wamid.in"));
        assert_eq!(out.callback, Some("job:7"));
    }

    #[test]
    fn without_a_phone_the_answer_goes_to_the_business_scoped_id_unquoted() {
        let payload = Send {
            to: None,
            recipient: Some("KE.bsuid".into()),
            ..text("hi")
        };
        let (whatsapp, callback) = (whatsapp(), callback_data(8));
        let out = outgoing(&whatsapp, &payload, &callback);
        assert_eq!((out.to, out.recipient), (None, Some("KE.bsuid")));
        assert_eq!(out.context, None, "nothing to quote, nothing to mark read");
    }

    #[test]
    fn a_persons_template_goes_as_the_template_not_its_rendered_text() {
        let payload = Send {
            template: Some(TemplateSend {
                name: "order_ready".into(),
                language: "en".into(),
                parameters: vec!["Wanjiru".into(), "violin".into()],
            }),
            ..text("Hello Wanjiru, your violin is ready.")
        };
        let (whatsapp, callback) = (whatsapp(), callback_data(9));
        let out = outgoing(&whatsapp, &payload, &callback);
        let Message::Template {
            name,
            language,
            parameters,
        } = out.message
        else {
            panic!("a template job sends the template")
        };
        assert_eq!((name, language), ("order_ready", "en"));
        assert_eq!(parameters, ["Wanjiru", "violin"]);
        assert_eq!(out.callback, Some("job:9"));
    }

    #[test]
    fn only_a_refused_token_stops_the_answer_after_a_failed_read_receipt() {
        assert!(read_receipt_failure_stops_the_answer(&Failure::new(
            Class::Auth,
            "token expired"
        )));
        for class in [Class::Throttle, Class::Transient, Class::Permanent] {
            assert!(
                !read_receipt_failure_stops_the_answer(&Failure::new(class, "x")),
                "{class:?}"
            );
        }
    }
}
