//! The FAQ and canned replies: list, add, edit, delete, and "try a question" (what the bot would
//! answer now, with the entries' scores; nothing is sent).
use crate::app::{attempt, App};
use crate::error::AppError;
use crate::forms::{Nothing, Paging, OUTDATED};
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

const PER_PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct Entry {
    #[serde(default)]
    data_type: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    category: String,
    /// One phrasing a line.
    #[serde(default)]
    phrasings: String,
    is_active: Option<String>,
    /// The entry's version when the form was drawn (VERSION; empty for a new entry).
    #[serde(default)]
    version: String,
}

/// An entry's version: a digest of what its form edits, compared in SAVE's WHERE (as the
/// settings' version is: settings.rs).
macro_rules! version {
    () => {
        "md5(row(data_type, question, answer, category, phrasings, is_active)::text)"
    };
}

fn editor(e: &Entry, action: &str, csrf: &Markup, button: &str) -> Markup {
    html! {
        form.entry method="post" action=(action) {
            (csrf)
            @if !e.version.is_empty() { input type="hidden" name="version" value=(e.version); }
            label { "Kind" select name="data_type" {
                option value="faq" selected[e.data_type != "canned_reply"] { "FAQ" }
                option value="canned_reply" selected[e.data_type == "canned_reply"] { "Canned reply" } } }
            label { "Question" input type="text" name="question" value=(e.question) required; }
            label { "Other ways customers ask it" textarea name="phrasings" rows="3" { (e.phrasings) } small { "One a line, in every language your customers use: \"mnafungua saa ngapi\"." } }
            label { "Answer" textarea name="answer" rows="3" required { (e.answer) } }
            label { "Category" input type="text" name="category" value=(if e.category.is_empty() { "Business" } else { &e.category }); }
            (html::checkbox("is_active", "In use", e.is_active.is_some()))
            button type="submit" { (button) }
        }
    }
}

#[derive(Deserialize)]
pub struct Listing {
    #[serde(default)]
    page: i64,
    #[serde(rename = "try")]
    try_question: Option<String>,
}

async fn list(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    q: &Listing,
    message: Option<&str>,
    draft: Option<&Entry>,
) -> Result<Response, AppError> {
    let paging = Paging { page: q.page };
    let total: i64 = tx
        .query_one("SELECT count(*) FROM alphadome.bot_training_data", &[])
        .await?
        .get(0);
    let rows = tx
        .query(
            "SELECT id, data_type, question, answer, category, cardinality(phrasings), is_active
               FROM alphadome.bot_training_data ORDER BY category, question, id LIMIT $1 OFFSET $2",
            &[&PER_PAGE, &paging.offset(PER_PAGE)],
        )
        .await?;
    let tried = match q
        .try_question
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(question) => {
            let decided = tx
                .query_one(
                    "SELECT decision, answer FROM alphadome.try_message($1)",
                    &[&question],
                )
                .await?;
            let ranked = tx
                .query(
                    "SELECT question, score FROM alphadome.match_faq($1, $2, 3)",
                    &[&tenant, &question],
                )
                .await?;
            Some((
                question.to_string(),
                decided.get::<_, String>(0),
                decided.get::<_, Option<String>>(1),
                ranked,
            ))
        }
        None => None,
    };
    let csrf = html::csrf(who);
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    Ok(html::page(
        "FAQ and canned replies",
        who,
        html! {
            h2 { "Try a question" }
            form.try method="get" action="/faq" {
                label { "What a customer might send" input type="text" name="try" value=(q.try_question.as_deref().unwrap_or("")); }
                button type="submit" { "Try it" }
            }
            @if let Some((question, decision, answer, ranked)) = &tried {
                div.tried {
                    p { "To " q { (question) } " the bot would answer: " }
                    @match answer {
                        Some(a) => blockquote { (a) },
                        None => p { em { (html::decision(Some(decision))) } @if decision == "llm" { " (the AI writes the answer; the best entries below go into its prompt)" } },
                    }
                    @if !ranked.is_empty() {
                        table { thead { tr { th { "Entry" } th.num { "Score" } } }
                            tbody { @for r in ranked { tr { td { (r.get::<_, String>(0)) } td.num { (format!("{:.2}", r.get::<_, f32>(1))) } } } } }
                    }
                    p.hint { "Nothing was sent or recorded." }
                }
            }
            h2 { "Entries (" (total) ")" }
            (html::notice(message, false))
            table.entries.cards {
                thead { tr { th { "Question" } th { "Answer" } th { "Category" } th.num { "Other ways asked" } th { "Change" } } }
                tbody { @for r in &rows {
                    tr class=(if r.get::<_, bool>(6) { "" } else { "inactive" }) {
                        td.lead { (r.get::<_, String>(2)) @if r.get::<_, String>(1) == "canned_reply" { " " small { "(canned)" } } }
                        td data-label="Answer" { (r.get::<_, String>(3)) }
                        td data-label="Category" { (r.get::<_, String>(4)) }
                        td.num data-label="Other ways asked" { (r.get::<_, Option<i32>>(5).unwrap_or(0)) }
                        td { a href=(format!("/faq/{}", r.get::<_, i64>(0))) { "Edit" } }
                    }
                } }
            }
            @if pages > 1 {
                p.pages { @for p in 0..pages { @if p == paging.page { strong { (p + 1) } } @else { a href=(format!("/faq?page={p}")) { (p + 1) } } " " } }
            }
            h2 { "Add an entry" }
            (editor(draft.unwrap_or(&Entry { is_active: Some(String::new()), ..Entry::default() }), "/faq", &csrf, "Add entry"))
        },
    ))
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Listing>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            list(tx, who, tenant, &q, None, None).await
        },
    )
    .await
}

/// Phrasings ($5) are written one a line; empty lines are dropped.
const ADD: &str = "
    INSERT INTO alphadome.bot_training_data (data_type, question, answer, category, phrasings, is_active, bot_tenant_id)
    VALUES ($1, btrim($2), btrim($3), coalesce(nullif(btrim($4), ''), 'Business'),
            (SELECT coalesce(array_agg(btrim(p)), '{}') FROM unnest(string_to_array($5, E'\\n')) p WHERE btrim(p) <> ''),
            $6, $7)";

/// $8: the version the form was read at; no row is changed when it is not the version now.
const SAVE: &str = concat!("
    UPDATE alphadome.bot_training_data
       SET data_type = $1, question = btrim($2), answer = btrim($3), category = coalesce(nullif(btrim($4), ''), 'Business'),
           phrasings = (SELECT coalesce(array_agg(btrim(p)), '{}') FROM unnest(string_to_array($5, E'\\n')) p WHERE btrim(p) <> ''),
           is_active = $6
     WHERE id = $7 AND ", version!(), " = $8");

pub async fn add(State(app): State<App>, session: Session, Posted(e): Posted<Entry>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let added = attempt(
                tx,
                ADD,
                &[
                    &e.data_type,
                    &e.question,
                    &e.answer,
                    &e.category,
                    &e.phrasings,
                    &e.is_active.is_some(),
                    &tenant,
                ],
            )
            .await?;
            match added {
                Ok(_) => Ok(Redirect::to("/faq").into_response()),
                Err(m) => {
                    list(
                        tx,
                        who,
                        tenant,
                        &Listing {
                            page: 0,
                            try_question: None,
                        },
                        Some(&m),
                        Some(&e),
                    )
                    .await
                }
            }
        },
    )
    .await
}

fn edit_page(who: &Who, id: i64, e: &Entry, message: Option<&str>) -> Response {
    let csrf = html::csrf(who);
    html::page(
        "Edit an entry",
        who,
        html! {
            (html::notice(message, false))
            (editor(e, &format!("/faq/{id}"), &csrf, "Save entry"))
            form method="post" action=(format!("/faq/{id}/delete")) { (csrf) button.danger type="submit" { "Delete this entry" } }
            p { a href="/faq" { "Back to the FAQ" } }
        },
    )
}

/// An entry as its form shows it, with its version; None: not the shop's, or gone.
async fn entry(tx: &Transaction<'_>, id: i64) -> Result<Option<Entry>, AppError> {
    const ENTRY: &str = concat!(
        "SELECT data_type, question, answer, category, array_to_string(phrasings, E'\\n'), is_active, ",
        version!(),
        " FROM alphadome.bot_training_data WHERE id = $1"
    );
    Ok(tx.query_opt(ENTRY, &[&id]).await?.map(|row| Entry {
        data_type: row.get(0),
        question: row.get(1),
        answer: row.get(2),
        category: row.get(3),
        phrasings: row.get(4),
        is_active: row.get::<_, bool>(5).then(String::new),
        version: row.get(6),
    }))
}

pub async fn edit(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
        let e = entry(tx, id).await?.ok_or(AppError::NotFound)?;
        Ok(edit_page(who, id, &e, None))
    })
    .await
}

pub async fn save(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(e): Posted<Entry>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let saved = attempt(
                tx,
                SAVE,
                &[
                    &e.data_type,
                    &e.question,
                    &e.answer,
                    &e.category,
                    &e.phrasings,
                    &e.is_active.is_some(),
                    &id,
                    &e.version,
                ],
            )
            .await?;
            match saved {
                // Changed elsewhere since the form was drawn: shown as it is now.
                Ok(0) => match entry(tx, id).await? {
                    Some(now) => Ok(edit_page(who, id, &now, Some(OUTDATED))),
                    None => Err(AppError::NotFound),
                },
                Ok(_) => Ok(Redirect::to("/faq").into_response()),
                Err(m) => Ok(edit_page(who, id, &e, Some(&m))),
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
            .execute(
                "DELETE FROM alphadome.bot_training_data WHERE id = $1",
                &[&id],
            )
            .await?
        {
            0 => Err(AppError::NotFound),
            _ => Ok(Redirect::to("/faq").into_response()),
        },
    )
    .await
}
