//! The bot's persona: its one personality (tone, the shop, offers now), which every prompt
//! starts with; templates, extra instructions for the questions their trigger words pick; and a
//! preview of the prompt the AI would get for a message.
use crate::app::{attempt, App};
use crate::error::AppError;
use crate::forms::{optional, Nothing, OUTDATED};
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct Template {
    #[serde(default)]
    template_name: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    triggers: String,
    is_default: Option<String>,
    is_active: Option<String>,
    /// The template's version when the form was drawn (VERSION; empty for a new one).
    #[serde(default)]
    version: String,
}

/// A template's version: a digest of what its form edits, compared in SAVE's WHERE (as the
/// settings' version is: settings.rs).
macro_rules! version {
    () => {
        "md5(row(template_name, system_prompt, triggers, is_default, is_active)::text)"
    };
}

/// The personality's form: written once per tenant (bot_control_settings), put into every
/// prompt by assemble_prompt whatever the template.
#[derive(Deserialize, Default)]
pub struct Personality {
    #[serde(default)]
    persona_tone: String,
    #[serde(default)]
    shop_description: String,
    #[serde(default)]
    current_offers: String,
    /// The personality's version when the form was drawn (PERSONALITY_VERSION).
    #[serde(default)]
    version: String,
}

/// The personality's version: a digest of exactly its columns, compared in SAVE_PERSONALITY's
/// WHERE (as the settings' version is: settings.rs).
macro_rules! personality_version {
    () => {
        "md5(row(persona_tone, shop_description, current_offers)::text)"
    };
}

const READ_PERSONALITY: &str = concat!(
    "SELECT persona_tone, coalesce(shop_description, ''), coalesce(current_offers, ''), ",
    personality_version!(),
    " FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1"
);

/// Empty description or offers: none ($3, $4 NULL). $5: the version the form was read at.
const SAVE_PERSONALITY: &str = concat!(
    "UPDATE alphadome.bot_control_settings
        SET persona_tone = $2, shop_description = $3, current_offers = $4
      WHERE bot_tenant_id = $1 AND ",
    personality_version!(),
    " = $5"
);

async fn personality(
    tx: &Transaction<'_>,
    tenant: Uuid,
) -> Result<Personality, tokio_postgres::Error> {
    let r = tx.query_one(READ_PERSONALITY, &[&tenant]).await?;
    Ok(Personality {
        persona_tone: r.get(0),
        shop_description: r.get(1),
        current_offers: r.get(2),
        version: r.get(3),
    })
}

#[derive(Deserialize)]
pub struct Preview {
    preview: Option<String>,
    /// What was just done: "added", "saved", "deleted", "personality".
    done: Option<String>,
}

/// Lines enough for a box to show all its text on a phone (about 30 characters a line), so the
/// owner reads what the bot is told without scrolling inside the box.
fn rows_for(text: &str, least: usize) -> String {
    let lines: usize = text.lines().map(|l| l.chars().count() / 30 + 1).sum();
    lines.clamp(least, 16).to_string()
}

fn personality_form(p: &Personality, csrf: &maud::Markup) -> maud::Markup {
    html! {
        form.personality method="post" action="/personality" {
            (csrf)
            input type="hidden" name="version" value=(p.version);
            label { "How the bot talks" textarea name="persona_tone" rows=(rows_for(&p.persona_tone, 2)) required maxlength="500" { (p.persona_tone) }
                    small { "Its tone, like: friendly and warm, in plain words." } }
            label { "About your shop" textarea name="shop_description" rows=(rows_for(&p.shop_description, 4)) maxlength="4000" { (p.shop_description) }
                    small { "What you sell, where you are, who runs it." } }
            label { "Offers now" textarea name="current_offers" rows=(rows_for(&p.current_offers, 3)) maxlength="2000" { (p.current_offers) }
                    small { "Like: December sale: 10% off all guitars until 31 Dec. Empty: no offer." } }
            button type="submit" { "Save the personality" }
        }
    }
}

fn editor(t: &Template, action: &str, csrf: &maud::Markup, button: &str) -> maud::Markup {
    html! {
        form.template method="post" action=(action) {
            (csrf)
            @if !t.version.is_empty() { input type="hidden" name="version" value=(t.version); }
            label { "Name" input type="text" name="template_name" value=(t.template_name) required; small { "Lower case letters, digits and _." } }
            label { "Instructions" textarea name="system_prompt" rows="5" required { (t.system_prompt) } small { "Told to the AI after the personality, for the questions this is for." } }
            label { "Trigger words" textarea name="triggers" rows="4" { (t.triggers) } small { "One per line: a message with one of them gets these instructions." } }
            (html::checkbox("is_default", "For every other message (the default)", t.is_default.is_some()))
            (html::checkbox("is_active", "In use", t.is_active.is_some()))
            button type="submit" { (button) }
        }
    }
}

/// The page; `shown` is the personality's form as it is to be shown (what was typed, when a
/// save was refused), else it is read.
async fn render(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    preview: Option<&str>,
    message: Option<&str>,
    ok: bool,
    shown: Option<Personality>,
) -> Result<Response, AppError> {
    let me = match shown {
        Some(p) => p,
        None => personality(tx, tenant).await?,
    };
    const TEMPLATES: &str = concat!(
        "SELECT id, template_name, system_prompt, array_to_string(triggers, E'\n'), is_default, is_active, ",
        version!(),
        " FROM alphadome.bot_templates ORDER BY is_default DESC, template_name"
    );
    let rows = tx.query(TEMPLATES, &[]).await?;
    // The prompt as the AI reads it: each part's text under who says it, never the JSON.
    let prompt = match preview.map(str::trim).filter(|p| !p.is_empty()) {
        Some(text) => Some(
            tx.query(
                "SELECT m ->> 'role', m ->> 'content'
                   FROM jsonb_array_elements(alphadome.assemble_prompt($1, '0', $2) -> 'messages') m",
                &[&tenant, &text],
            )
            .await?
            .iter()
            .map(|r| (role_words(r.get(0)), r.get::<_, String>(1)))
            .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let csrf = html::csrf(who);
    Ok(html::page(
        "AI persona",
        who,
        html! {
            (html::notice(message, ok))
            h2 { "The bot's personality" }
            p.hint { "Written once, told to the AI before every answer it gives, whatever the question." }
            (personality_form(&me, &csrf))
            h2 { "Extra instructions for some questions" }
            p.hint { "Added after the personality: a message with one of the trigger words gets those instructions, every other message the default ones. (WhatsApp's message templates, which Meta approves, are offered in a conversation's reply box.)" }
            @for r in &rows {
                @let id: i64 = r.get(0);
                @let t = Template { template_name: r.get(1), system_prompt: r.get(2), triggers: r.get(3),
                                    is_default: r.get::<_, bool>(4).then(String::new), is_active: r.get::<_, bool>(5).then(String::new),
                                    version: r.get(6) };
                details open[rows.len() == 1] {
                    summary {
                        (shown_name(&t.template_name))
                        @if t.is_default.is_some() { " — every other message" }
                        @else if !t.triggers.trim().is_empty() { " — when a message says " (t.triggers.lines().map(str::trim).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(", ")) }
                        @if t.is_active.is_none() { " (not in use)" }
                    }
                    (editor(&t, &format!("/templates/{id}"), &csrf, "Save instructions"))
                    form method="post" action=(format!("/templates/{id}/delete")) { (csrf) button.danger type="submit" { "Delete" } }
                }
            }
            details {
                summary { "New instructions for some questions" }
                (editor(&Template { is_active: Some(String::new()), ..Template::default() }, "/templates", &csrf, "Add instructions"))
            }
            h2 { "Preview the prompt" }
            form method="get" action="/templates" {
                label { "A customer's message" input type="text" name="preview" value=(preview.unwrap_or("")); }
                button type="submit" { "Show the prompt" }
            }
            @if let Some(parts) = prompt {
                section.prompt aria-label="The prompt" {
                    @for (who_says, text) in &parts { h3 { (who_says) } pre.prompt { (text) } }
                }
            }
        },
    ))
}

/// Who says a part of the prompt, as the owner reads it.
/// A set of instructions' name as the owner reads it: "product_inquiry" → "Product inquiry".
fn shown_name(name: &str) -> String {
    let words = name.trim().replace('_', " ");
    let mut letters = words.chars();
    match letters.next() {
        Some(first) => first.to_uppercase().chain(letters).collect(),
        None => String::new(),
    }
}

fn role_words(role: Option<&str>) -> &'static str {
    match role.unwrap_or("") {
        "system" => "What the AI is told",
        "assistant" => "The bot, earlier",
        _ => "The customer",
    }
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Preview>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let done = match q.done.as_deref() {
                Some("added") => Some("Template added."),
                Some("saved") => Some("Template saved."),
                Some("deleted") => Some("Template deleted."),
                Some("personality") => Some("Personality saved: every answer uses it now."),
                _ => None,
            };
            render(tx, who, tenant, q.preview.as_deref(), done, true, None).await
        },
    )
    .await
}

/// Trigger words ($3) are written one per line (commas also part them); empty items are dropped. (A template's tone
/// is no longer used: the tone is the personality's.)
const ADD: &str = "
    INSERT INTO alphadome.bot_templates (template_name, system_prompt, triggers, is_default, is_active, bot_tenant_id)
    VALUES ($1, $2,
            (SELECT coalesce(array_agg(btrim(k)), '{}') FROM regexp_split_to_table($3, '[,\\r\\n]+') k WHERE btrim(k) <> ''),
            $4, $5, $6)";

/// $8: the version the form was read at; no row is changed when it is not the version now.
const SAVE: &str = concat!("
    UPDATE alphadome.bot_templates
       SET template_name = $1, system_prompt = $2,
           triggers = (SELECT coalesce(array_agg(btrim(k)), '{}') FROM regexp_split_to_table($3, '[,\\r\\n]+') k WHERE btrim(k) <> ''),
           is_default = $4, is_active = $5
     WHERE id = $6 AND bot_tenant_id = $7 AND ", version!(), " = $8");

pub async fn add(
    State(app): State<App>,
    session: Session,
    Posted(t): Posted<Template>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let added = attempt(
                tx,
                ADD,
                &[
                    &t.template_name.trim(),
                    &t.system_prompt,
                    &t.triggers,
                    &t.is_default.is_some(),
                    &t.is_active.is_some(),
                    &tenant,
                ],
            )
            .await?;
            match added {
                Ok(_) => Ok(Redirect::to("/templates?done=added").into_response()),
                Err(m) => render(tx, who, tenant, None, Some(&m), false, None).await,
            }
        },
    )
    .await
}

pub async fn save(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(t): Posted<Template>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let saved = attempt(
                tx,
                SAVE,
                &[
                    &t.template_name.trim(),
                    &t.system_prompt,
                    &t.triggers,
                    &t.is_default.is_some(),
                    &t.is_active.is_some(),
                    &id,
                    &tenant,
                    &t.version,
                ],
            )
            .await?;
            let exists = "SELECT 1 FROM alphadome.bot_templates WHERE id = $1";
            match saved {
                // Changed elsewhere since the form was drawn: the page shows it as it is now.
                Ok(0) if tx.query_opt(exists, &[&id]).await?.is_some() => {
                    render(tx, who, tenant, None, Some(OUTDATED), false, None).await
                }
                Ok(0) => Err(AppError::NotFound),
                Ok(_) => Ok(Redirect::to("/templates?done=saved").into_response()),
                Err(m) => render(tx, who, tenant, None, Some(&m), false, None).await,
            }
        },
    )
    .await
}

pub async fn delete(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(_): Posted<Nothing>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, _: &Who, _: Uuid| match tx
            .execute("DELETE FROM alphadome.bot_templates WHERE id = $1", &[&id])
            .await?
        {
            0 => Err(AppError::NotFound),
            _ => Ok(Redirect::to("/templates?done=deleted").into_response()),
        },
    )
    .await
}

/// What is wrong with a personality, in the owner's words (the database's checks, said first
/// so that he reads no constraint's name).
fn personality_problem(p: &Personality) -> Option<&'static str> {
    let long = |text: &str, most: usize| text.trim().chars().count() > most;
    if p.persona_tone.trim().is_empty() {
        Some("Say how the bot talks, like: friendly and warm. Nothing was saved.")
    } else if long(&p.persona_tone, 500) {
        Some("How the bot talks: at most 500 characters. Nothing was saved.")
    } else if long(&p.shop_description, 4000) {
        Some("About your shop: at most 4,000 characters. Nothing was saved.")
    } else if long(&p.current_offers, 2000) {
        Some("Offers now: at most 2,000 characters. Nothing was saved.")
    } else {
        None
    }
}

/// The personality, saved only when it is still as the form read it (else the page shows it
/// as it is now); the database says what it refuses (an empty tone, a text too long).
pub async fn save_personality(
    State(app): State<App>,
    session: Session,
    Posted(p): Posted<Personality>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            if let Some(problem) = personality_problem(&p) {
                return render(tx, who, tenant, None, Some(problem), false, Some(p)).await;
            }
            let saved = attempt(
                tx,
                SAVE_PERSONALITY,
                &[
                    &tenant,
                    &p.persona_tone.trim(),
                    &optional(&p.shop_description),
                    &optional(&p.current_offers),
                    &p.version,
                ],
            )
            .await?;
            match saved {
                Ok(0) => render(tx, who, tenant, None, Some(OUTDATED), false, None).await,
                Ok(_) => Ok(Redirect::to("/templates?done=personality").into_response()),
                Err(m) => render(tx, who, tenant, None, Some(&m), false, Some(p)).await,
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::shown_name;

    #[test]
    fn a_name_reads_as_words() {
        assert_eq!(shown_name("product_inquiry"), "Product inquiry");
        assert_eq!(shown_name("welcome"), "Welcome");
        assert_eq!(shown_name(""), "");
    }
}
