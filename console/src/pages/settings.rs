//! Every switch and text of the bot an owner may change (the hourly limit and the prompt budget
//! are the operator's). The database checks each value and says what is wrong.
use crate::app::{attempt, App};
use crate::forms::{optional, OUTDATED};
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The kinds of message type_replies may answer, as the owner reads them.
const MESSAGE_KINDS: [(&str, &str); 8] = [
    ("location", "A location pin"),
    ("contacts", "A contact card"),
    ("order", "An order from your WhatsApp catalogue"),
    ("image", "A photo without words"),
    ("video", "A video"),
    ("document", "A document (PDF, ...)"),
    ("audio", "A voice note the bot cannot listen to"),
    (
        "unsupported",
        "Anything else WhatsApp cannot show (a poll, ...)",
    ),
];

impl Settings {
    fn reply(&self, kind: &str) -> &str {
        match kind {
            "location" => &self.reply_location,
            "contacts" => &self.reply_contacts,
            "order" => &self.reply_order,
            "image" => &self.reply_image,
            "video" => &self.reply_video,
            "document" => &self.reply_document,
            "audio" => &self.reply_audio,
            _ => &self.reply_unsupported,
        }
    }

    /// The replies as the type_replies object: the boxes left empty are left out.
    fn type_replies(&self) -> serde_json::Value {
        MESSAGE_KINDS
            .iter()
            .filter(|(kind, _)| !self.reply(kind).trim().is_empty())
            .map(|(kind, _)| (kind.to_string(), self.reply(kind).trim().into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// A number from 0 to 1 as the owner typed it (a comma for the point too), or what is wrong
/// with it in his words; empty is allowed where the database has a default.
fn share_problem(typed: &str, label: &str, may_be_empty: bool) -> Option<String> {
    let typed = typed.trim().replace(',', ".");
    if typed.is_empty() && may_be_empty {
        return None;
    }
    match typed.parse::<f32>() {
        Ok(n) if n > 0.0 && n <= 1.0 => None,
        _ => Some(format!(
            "{label}: a number above 0 and at most 1, like 0.6 (nothing was saved)."
        )),
    }
}

/// The form's fields, as text (checkboxes: present when ticked).
#[derive(Deserialize, Default, Clone)]
pub struct Settings {
    is_bot_enabled: Option<String>,
    enable_ai_responses: Option<String>,
    enable_payment_flow: Option<String>,
    enable_media_understanding: Option<String>,
    #[serde(default)]
    escalation_phone: String,
    #[serde(default)]
    fallback_message: String,
    #[serde(default)]
    opt_out_keywords: String,
    #[serde(default)]
    opt_in_keywords: String,
    #[serde(default)]
    handoff_keywords: String,
    #[serde(default)]
    faq_confidence: String,
    #[serde(default)]
    transcription_model: String,
    #[serde(default)]
    embedding_model: String,
    #[serde(default)]
    semantic_confidence: String,
    #[serde(default)]
    alert_template_name: String,
    #[serde(default)]
    alert_template_language: String,
    /// One reply per kind of message (MESSAGE_KINDS), each its own box: stored as the
    /// type_replies JSON object, which the owner never sees.
    #[serde(default)]
    reply_location: String,
    #[serde(default)]
    reply_contacts: String,
    #[serde(default)]
    reply_order: String,
    #[serde(default)]
    reply_image: String,
    #[serde(default)]
    reply_video: String,
    #[serde(default)]
    reply_document: String,
    #[serde(default)]
    reply_audio: String,
    #[serde(default)]
    reply_unsupported: String,
    /// The settings' version when the form was drawn (VERSION): a save from an older page is
    /// refused instead of putting back what was changed since.
    #[serde(default)]
    version: String,
}

/// The version of what this form edits: a digest of exactly its columns, compared in SAVE's
/// WHERE, so a change to any of them elsewhere (a switch on the overview, another tab or phone)
/// outdates an open form, and the row's other changes (the FAQ's version, the operator's limits)
/// do not. A macro: the same text goes into READ and SAVE.
macro_rules! version {
    () => {
        "md5(row(is_bot_enabled, enable_ai_responses, enable_payment_flow, enable_media_understanding,
                 escalation_phone, fallback_message, opt_out_keywords, opt_in_keywords, handoff_keywords,
                 faq_confidence, transcription_model, alert_template_name, alert_template_language,
                 type_replies, embedding_model, semantic_confidence)::text)"
    };
}

const READ: &str = concat!("
    SELECT is_bot_enabled, enable_ai_responses, enable_payment_flow, enable_media_understanding,
           coalesce(escalation_phone, ''), fallback_message, array_to_string(opt_out_keywords, E'\n'),
           array_to_string(opt_in_keywords, E'\n'), array_to_string(handoff_keywords, E'\n'), faq_confidence::text,
           coalesce(transcription_model, ''), coalesce(alert_template_name, ''),
           alert_template_language, type_replies, ", version!(), ",
           coalesce(embedding_model, ''), semantic_confidence::text
      FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1");

/// Lists are written one per line (commas also part them); empty items are dropped. $15: the replies per kind of
/// message the form has boxes for ($17), replacing those kinds only. $16: the version the form was
/// read at; no row is changed when it is not the version now. $19: empty is the default, 0.8.
/// (The hours are the hours page's.)
const SAVE: &str = concat!("
    UPDATE alphadome.bot_control_settings SET
        is_bot_enabled = $2, enable_ai_responses = $3, enable_payment_flow = $4, enable_media_understanding = $5,
        escalation_phone = $6, fallback_message = $7,
        opt_out_keywords = (SELECT coalesce(array_agg(btrim(k)), '{}') FROM regexp_split_to_table($8, '[,\\r\\n]+') k WHERE btrim(k) <> ''),
        opt_in_keywords = (SELECT coalesce(array_agg(btrim(k)), '{}') FROM regexp_split_to_table($9, '[,\\r\\n]+') k WHERE btrim(k) <> ''),
        handoff_keywords = (SELECT coalesce(array_agg(btrim(k)), '{}') FROM regexp_split_to_table($10, '[,\\r\\n]+') k WHERE btrim(k) <> ''),
        faq_confidence = $11::text::real, transcription_model = $12,
        alert_template_name = $13, alert_template_language = $14,
        type_replies = (type_replies - $17::text[]) || $15::jsonb,
        embedding_model = $18, semantic_confidence = coalesce(nullif(btrim($19), '')::real, 0.8)
     WHERE bot_tenant_id = $1 AND ", version!(), " = $16");

/// A reply of the stored type_replies (column 13), "" when there is none.
fn reply(row: &tokio_postgres::Row, kind: &str) -> String {
    row.get::<_, serde_json::Value>(13)
        .get(kind)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

async fn current(tx: &Transaction<'_>, tenant: Uuid) -> Result<Settings, tokio_postgres::Error> {
    let r = tx.query_one(READ, &[&tenant]).await?;
    let on = |i: usize| r.get::<_, bool>(i).then(|| "on".to_string());
    Ok(Settings {
        is_bot_enabled: on(0),
        enable_ai_responses: on(1),
        enable_payment_flow: on(2),
        enable_media_understanding: on(3),
        escalation_phone: r.get(4),
        fallback_message: r.get(5),
        opt_out_keywords: r.get(6),
        opt_in_keywords: r.get(7),
        handoff_keywords: r.get(8),
        faq_confidence: r.get(9),
        transcription_model: r.get(10),
        alert_template_name: r.get(11),
        alert_template_language: r.get(12),
        reply_location: reply(&r, "location"),
        reply_contacts: reply(&r, "contacts"),
        reply_order: reply(&r, "order"),
        reply_image: reply(&r, "image"),
        reply_video: reply(&r, "video"),
        reply_document: reply(&r, "document"),
        reply_audio: reply(&r, "audio"),
        reply_unsupported: reply(&r, "unsupported"),
        version: r.get(14),
        embedding_model: r.get(15),
        semantic_confidence: r.get(16),
    })
}

fn form(who: &Who, s: &Settings, message: Option<&str>, ok: bool) -> Response {
    let text = |name: &str, label: &str, value: &str, help: &str| {
        html! { label { (label) input type="text" name=(name) value=(value); small { (help) } } }
    };
    let area = |name: &str, label: &str, value: &str, help: &str| {
        html! { label { (label) textarea name=(name) rows="4" { (value) } small { (help) } } }
    };
    html::page(
        "Settings",
        who,
        html! {
            (html::notice(message, ok))
            form.settings method="post" action="/settings" {
                (html::csrf(who))
                input type="hidden" name="version" value=(s.version);
                fieldset { legend { "Switches" }
                    (html::checkbox("is_bot_enabled", "The bot answers customers", s.is_bot_enabled.is_some()))
                    (html::checkbox("enable_ai_responses", "The AI answers what the FAQ does not", s.enable_ai_responses.is_some()))
                    (html::checkbox("enable_payment_flow", "The AI may help customers choose how to pay", s.enable_payment_flow.is_some()))
                    (html::checkbox("enable_media_understanding", "The AI looks at photos sent without a caption", s.enable_media_understanding.is_some()))
                }
                fieldset { legend { "Words" }
                    (text("escalation_phone", "Phone to alert when a customer needs you", &s.escalation_phone, "Your WhatsApp number, like 254702245555; customers who ask for a person are given it too."))
                    (area("fallback_message", "No-answer reply", &s.fallback_message, "Sent when the bot has no answer: neither the FAQ nor the AI answers."))
                    (area("opt_out_keywords", "Words that stop messages", &s.opt_out_keywords, "One per line: a message that is exactly one of them stops the bot for that customer."))
                    (area("opt_in_keywords", "Words that start them again", &s.opt_in_keywords, "One per line."))
                    (area("handoff_keywords", "Words that ask for a person", &s.handoff_keywords, "One per line."))
                    (text("faq_confidence", "How sure the FAQ must be to answer", &s.faq_confidence, "From 0 to 1 (usually 0.6): higher, and more questions go to the AI."))
                    (text("transcription_model", "Voice notes are turned into text by", &s.transcription_model, "The speech-to-text model of your AI service (whisper-1 for OpenAI); empty: voice notes are not read."))
                }
                fieldset { legend { "Replies to messages without words" }
                    p.hint { "What the bot sends when a customer sends one of these. Leave a box empty and the bot answers as usual (the AI, or your no-answer reply)." }
                    @for (kind, label) in MESSAGE_KINDS {
                        (text(&format!("reply_{kind}"), label, s.reply(kind), ""))
                    }
                }
                fieldset { legend { "Understanding questions by meaning (optional)" }
                    p.hint { "The FAQ answers when a message uses the words of an entry. With this on, it also answers a message that means the same in other words. It uses your AI key: one small AI call when you change the FAQ and one for each message whose words the FAQ does not recognise (a fraction of a shilling each)." }
                    (text("embedding_model", "Meanings are compared by", &s.embedding_model, "The embeddings model of your AI service (text-embedding-3-small for OpenAI); empty: off."))
                    (text("semantic_confidence", "How close in meaning a question must be", &s.semantic_confidence, "From 0 to 1 (usually 0.8): higher, and more questions go to the AI."))
                }
                p.hint { "Opening hours, holidays and what customers are told when you are closed: " a href="/hours" { "Hours" } "." }
                fieldset { legend { "Alerts when you have not written to the shop's number for a day" }
                    (text("alert_template_name", "Approved WhatsApp template", &s.alert_template_name, "WhatsApp lets the bot write to you only within a day of your last message to it; after that alerts need a template Meta approved (its one blank is the alert). Empty: such alerts go by email."))
                    (text("alert_template_language", "Template language", &s.alert_template_language, "Like en or sw."))
                }
                button type="submit" { "Save settings" }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Saved>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let s = current(tx, tenant).await?;
            Ok(form(who, &s, q.saved.as_ref().map(|_| "Saved."), true))
        },
    )
    .await
}

pub async fn save(
    State(app): State<App>,
    session: Session,
    Posted(s): Posted<Settings>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let problem = share_problem(&s.faq_confidence, "How sure the FAQ must be", false)
                .or_else(|| share_problem(&s.semantic_confidence, "How close in meaning", true));
            if let Some(problem) = problem {
                return Ok(form(who, &s, Some(&problem), false));
            }
            let saved = attempt(
                tx,
                SAVE,
                &[
                    &tenant,
                    &s.is_bot_enabled.is_some(),
                    &s.enable_ai_responses.is_some(),
                    &s.enable_payment_flow.is_some(),
                    &s.enable_media_understanding.is_some(),
                    &optional(&s.escalation_phone),
                    &s.fallback_message.trim(),
                    &s.opt_out_keywords,
                    &s.opt_in_keywords,
                    &s.handoff_keywords,
                    &s.faq_confidence.trim().replace(',', "."),
                    &optional(&s.transcription_model),
                    &optional(&s.alert_template_name),
                    &s.alert_template_language.trim(),
                    &s.type_replies(),
                    &s.version,
                    &MESSAGE_KINDS.map(|(kind, _)| kind).to_vec(),
                    &optional(&s.embedding_model),
                    &s.semantic_confidence.trim().replace(',', "."),
                ],
            )
            .await?;
            Ok(match saved {
                Ok(0) => form(who, &current(tx, tenant).await?, Some(OUTDATED), false),
                Ok(_) => Redirect::to("/settings?saved=1").into_response(),
                Err(message) => form(who, &s, Some(&message), false),
            })
        },
    )
    .await
}
