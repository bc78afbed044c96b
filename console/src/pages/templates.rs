//! The bot's persona: templates (system prompt, tone, trigger words), and a preview of the prompt
//! the AI would get for a message.
use crate::app::{attempt, App};
use crate::error::AppError;
use crate::forms::{Nothing, OUTDATED};
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
    tone: String,
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
        "md5(row(template_name, system_prompt, tone, triggers, is_default, is_active)::text)"
    };
}

#[derive(Deserialize)]
pub struct Preview {
    preview: Option<String>,
    /// What was just done: "added", "saved", "deleted".
    done: Option<String>,
}

const TONES: [&str; 6] = [
    "friendly",
    "professional",
    "casual",
    "formal",
    "playful",
    "concise",
];

fn editor(t: &Template, action: &str, csrf: &maud::Markup, button: &str) -> maud::Markup {
    html! {
        form.template method="post" action=(action) {
            (csrf)
            @if !t.version.is_empty() { input type="hidden" name="version" value=(t.version); }
            label { "Name" input type="text" name="template_name" value=(t.template_name) required; small { "Lower case letters, digits and _." } }
            label { "Persona and instructions (the system prompt)" textarea name="system_prompt" rows="5" required { (t.system_prompt) } }
            label { "Tone" select name="tone" { @for tone in TONES { option value=(tone) selected[t.tone == tone] { (tone) } } } }
            label { "Trigger words" input type="text" name="triggers" value=(t.triggers); small { "Comma-separated: a message with one of them uses this template." } }
            (html::checkbox("is_default", "The default template", t.is_default.is_some()))
            (html::checkbox("is_active", "In use", t.is_active.is_some()))
            button type="submit" { (button) }
        }
    }
}

async fn render(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    preview: Option<&str>,
    message: Option<&str>,
    ok: bool,
) -> Result<Response, AppError> {
    const TEMPLATES: &str = concat!(
        "SELECT id, template_name, system_prompt, tone, array_to_string(triggers, ', '), is_default, is_active, ",
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
            p.hint { "How the AI talks to customers: what it is told about the shop, its tone, and for which words another template takes over. (WhatsApp's message templates, which Meta approves, are offered in a conversation's reply box.)" }
            @for r in &rows {
                @let id: i64 = r.get(0);
                @let t = Template { template_name: r.get(1), system_prompt: r.get(2), tone: r.get(3), triggers: r.get(4),
                                    is_default: r.get::<_, bool>(5).then(String::new), is_active: r.get::<_, bool>(6).then(String::new),
                                    version: r.get(7) };
                details open[rows.len() == 1] {
                    summary { (t.template_name) @if t.is_default.is_some() { " (default)" } @if t.is_active.is_none() { " (not in use)" } }
                    (editor(&t, &format!("/templates/{id}"), &csrf, "Save template"))
                    form method="post" action=(format!("/templates/{id}/delete")) { (csrf) button.danger type="submit" { "Delete" } }
                }
            }
            h2 { "New persona template" }
            (editor(&Template { is_active: Some(String::new()), ..Template::default() }, "/templates", &csrf, "Add template"))
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
                _ => None,
            };
            render(tx, who, tenant, q.preview.as_deref(), done, true).await
        },
    )
    .await
}

/// Trigger words ($5) are written comma-separated; empty items are dropped.
const ADD: &str = "
    INSERT INTO alphadome.bot_templates (template_name, system_prompt, tone, triggers, is_default, is_active, bot_tenant_id)
    VALUES ($1, $2, coalesce(nullif(btrim($3), ''), 'friendly'),
            (SELECT coalesce(array_agg(btrim(k)), '{}') FROM unnest(string_to_array($5, ',')) k WHERE btrim(k) <> ''),
            $6, $7, $4)";

/// $9: the version the form was read at; no row is changed when it is not the version now.
const SAVE: &str = concat!("
    UPDATE alphadome.bot_templates
       SET template_name = $1, system_prompt = $2, tone = coalesce(nullif(btrim($3), ''), 'friendly'),
           triggers = (SELECT coalesce(array_agg(btrim(k)), '{}') FROM unnest(string_to_array($5, ',')) k WHERE btrim(k) <> ''),
           is_default = $6, is_active = $7
     WHERE id = $4 AND bot_tenant_id = $8 AND ", version!(), " = $9");

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
                    &t.tone,
                    &tenant,
                    &t.triggers,
                    &t.is_default.is_some(),
                    &t.is_active.is_some(),
                ],
            )
            .await?;
            match added {
                Ok(_) => Ok(Redirect::to("/templates?done=added").into_response()),
                Err(m) => render(tx, who, tenant, None, Some(&m), false).await,
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
                    &t.tone,
                    &id,
                    &t.triggers,
                    &t.is_default.is_some(),
                    &t.is_active.is_some(),
                    &tenant,
                    &t.version,
                ],
            )
            .await?;
            let exists = "SELECT 1 FROM alphadome.bot_templates WHERE id = $1";
            match saved {
                // Changed elsewhere since the form was drawn: the page shows it as it is now.
                Ok(0) if tx.query_opt(exists, &[&id]).await?.is_some() => {
                    render(tx, who, tenant, None, Some(OUTDATED), false).await
                }
                Ok(0) => Err(AppError::NotFound),
                Ok(_) => Ok(Redirect::to("/templates?done=saved").into_response()),
                Err(m) => render(tx, who, tenant, None, Some(&m), false).await,
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
