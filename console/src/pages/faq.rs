//! The FAQ and canned replies: list, add, edit, delete (undone for a day), and "try a
//! question" (what the bot would answer now and why; nothing is sent). Every change says what
//! was done, and a saved entry whose words also fit another entry says so.
use crate::app::{attempt, attempt_query, App};
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
    /// A new entry started from a question the FAQ did not answer (faq_missed.rs): its words,
    /// remembered as dealt with once the entry is added.
    #[serde(default)]
    missed: String,
}

/// An entry's version: a digest of what its form edits, compared in SAVE's WHERE (as the
/// settings' version is: settings.rs).
macro_rules! version {
    () => {
        "md5(row(data_type, question, answer, category, phrasings, is_active)::text)"
    };
}
pub(crate) use version;

/// What "Kind" changes: nothing in how the bot answers (match_faq ranks both alike).
const KIND_HINT: &str = "Both answer the same way: \u{201c}Canned reply\u{201d} only marks a set reply, like hello or thank you, in the list.";

fn editor(e: &Entry, action: &str, csrf: &Markup, button: &str) -> Markup {
    html! {
        form.entry method="post" action=(action) {
            (csrf)
            @if !e.version.is_empty() { input type="hidden" name="version" value=(e.version); }
            @if !e.missed.is_empty() { input type="hidden" name="missed" value=(e.missed); }
            label { "Kind" select name="data_type" {
                option value="faq" selected[e.data_type != "canned_reply"] { "FAQ" }
                option value="canned_reply" selected[e.data_type == "canned_reply"] { "Canned reply" } }
                small { (KIND_HINT) } }
            label { "Question" input type="text" name="question" value=(e.question) required; }
            label { "Other ways customers ask it" textarea name="phrasings" rows="3" { (e.phrasings) } small { "One a line, in every language your customers use: \"mnafungua saa ngapi\"." } }
            label { "Answer" textarea name="answer" rows="3" required { (e.answer) }
                small { "{hours} puts in your opening hours and {opening} when you next open, from the " a href="/hours" { "Hours" } " page, in the customer's language." } }
            label { "Category" input type="text" name="category" value=(if e.category.is_empty() { "Business" } else { &e.category }); }
            (html::checkbox("is_active", "In use", e.is_active.is_some()))
            button type="submit" { (button) }
        }
    }
}

/// `/faq?...`: a page of entries, a question to try, and what was just done.
#[derive(Deserialize)]
pub struct Listing {
    #[serde(default)]
    page: i64,
    #[serde(rename = "try")]
    try_question: Option<String>,
    /// An entry just added, saved or put back (its id), or deleted (its id in faq_deleted).
    added: Option<i64>,
    saved: Option<i64>,
    restored: Option<i64>,
    deleted: Option<i64>,
}

/// What the FAQ page says at its top: what was just done, or why it was not.
enum Notice {
    Changed { verb: &'static str, id: i64 },
    Deleted(i64),
    Refused(String),
}

impl Listing {
    fn notice(&self) -> Option<Notice> {
        match (self.added, self.saved, self.restored, self.deleted) {
            (Some(id), ..) => Some(Notice::Changed { verb: "Added", id }),
            (_, Some(id), ..) => Some(Notice::Changed { verb: "Saved", id }),
            (_, _, Some(id), _) => Some(Notice::Changed {
                verb: "Put back",
                id,
            }),
            (.., Some(id)) => Some(Notice::Deleted(id)),
            _ => None,
        }
    }
}

/// Other entries that this entry's question or one of its phrasings fits as well as the FAQ needs
/// to answer (the matcher itself, match_faq): (the words, the other entry's question). A customer
/// who writes those words may get the other entry's answer, or the AI's when the two fit about
/// equally well.
const OVERLAPS: &str = "
    SELECT DISTINCT ON (m.id) w.said, m.question, m.id
      FROM alphadome.bot_training_data e
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = e.bot_tenant_id
     CROSS JOIN LATERAL unnest(array_prepend(e.question, e.phrasings)) AS w(said)
     CROSS JOIN LATERAL alphadome.match_faq(e.bot_tenant_id, w.said, 3) m
     WHERE e.id = $1 AND m.id <> e.id AND m.score >= s.faq_confidence
     ORDER BY m.id, m.score DESC
     LIMIT 5";

/// Entries deleted and still to be put back (within alphadome._faq_undo_window()), newest first.
const DELETED: &str = "
    SELECT d.id, d.entry ->> 'question', to_char(d.deleted_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI')
      FROM alphadome.faq_deleted d JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = d.bot_tenant_id
     WHERE d.deleted_at >= now() - alphadome._faq_undo_window()
     ORDER BY d.deleted_at DESC, d.id DESC LIMIT 20";

/// What "try a question" found: the decision, the answer it would send, the best entries with
/// how well they fit, and the score the FAQ answers from.
pub(crate) struct Tried {
    question: String,
    pub(crate) decision: String,
    answer: Option<String>,
    ranked: Vec<(String, f32)>,
    confidence: f32,
}

pub(crate) async fn try_question(
    tx: &Transaction<'_>,
    tenant: Uuid,
    question: &str,
) -> Result<Tried, AppError> {
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
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let confidence: f32 = tx
        .query_one(
            "SELECT faq_confidence FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1",
            &[&tenant],
        )
        .await?
        .get(0);
    Ok(Tried {
        question: question.to_string(),
        decision: decided.get(0),
        answer: decided.get(1),
        ranked,
        confidence,
    })
}

/// Why the bot would do what it would, in words. The FAQ answers only when its best entry fits
/// at least as well as the shop's FAQ confidence and clearly better than the next one
/// (pg_alphadome's faq::rank::clear_answer); otherwise the AI answers, or the fallback message
/// goes when AI answers are off.
pub(crate) fn why(t: &Tried) -> String {
    let not_the_faq = || {
        match t.ranked.as_slice() {
        [] => "no entry fits these words at all".to_string(),
        [(best, score), ..] if *score < t.confidence => format!(
            "no entry fits well enough: the best, \u{201c}{best}\u{201d}, fits {score:.2}, and the FAQ answers from {:.2} (your FAQ confidence setting)",
            t.confidence
        ),
        // The matcher's margin (pg_alphadome's faq/rank.rs, MARGIN): closer than this is a tie.
        [(first, a), (second, b), ..] if a - b < 0.1 => format!(
            "two entries fit about equally well (\u{201c}{first}\u{201d} {a:.2}, \u{201c}{second}\u{201d} {b:.2}), so the bot does not guess between them"
        ),
        // A best entry clearly ahead and still not answered: the message also asks what most
        // of another entry's question is about (the matcher's contradiction rule).
        [(best, _), ..] => format!(
            "the message also asks about something \u{201c}{best}\u{201d} does not cover (it shares most of another entry's question), so its answer alone could be wrong"
        ),
    }
    };
    match t.decision.as_str() {
        "faq" => match t.ranked.first() {
            Some((best, score)) => format!(
                "The FAQ answers: \u{201c}{best}\u{201d} fits {score:.2} (the FAQ answers from {:.2}), clearly better than any other entry.",
                t.confidence
            ),
            None => "The FAQ answers.".to_string(),
        },
        "llm" => format!("The AI writes the answer, because {}.", not_the_faq()),
        "fallback" => format!(
            "Your no-answer reply goes (Settings), because {}, and AI answers are off.",
            not_the_faq()
        ),
        "escalated" => "These words ask for a person: the customer is told someone will answer, and you get an alert.".to_string(),
        "after_hours" => "The shop is closed now: the after-hours reply goes.".to_string(),
        "bot_disabled" => "The bot is off: the message is only recorded.".to_string(),
        "opt_out" => "These are words to stop messages: the bot stops writing to this customer.".to_string(),
        "opt_in" => "These words start the bot's messages again for a customer who stopped them.".to_string(),
        "rate_limited" => "The hourly reply limit is reached: nothing is sent.".to_string(),
        other => format!("The bot: {}.", html::decision(Some(other))),
    }
}

async fn list(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    q: &Listing,
    notice: Option<Notice>,
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
        Some(question) => Some(try_question(tx, tenant, question).await?),
        None => None,
    };
    let deleted = tx.query(DELETED, &[]).await?;
    let csrf = html::csrf(who);
    // What was just done, said with the entry's question; a changed entry's overlaps with others.
    let (done, overlaps): (Markup, Vec<(String, String, i64)>) = match notice.or_else(|| q.notice())
    {
        Some(Notice::Changed { verb, id }) => {
            let question: Option<String> = tx
                .query_opt(
                    "SELECT question FROM alphadome.bot_training_data WHERE id = $1",
                    &[&id],
                )
                .await?
                .map(|r| r.get(0));
            let overlaps = tx
                .query(OVERLAPS, &[&id])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            (
                html! { @if let Some(question) = question { p.notice.ok role="status" { (verb) " \u{201c}" (question) "\u{201d}." } } },
                overlaps,
            )
        }
        Some(Notice::Deleted(id)) => {
            let question: Option<String> = deleted
                .iter()
                .find(|r| r.get::<_, i64>(0) == id)
                .map(|r| r.get(1));
            (
                html! { @if let Some(question) = question {
                    div.notice.ok role="status" {
                        "Deleted \u{201c}" (question) "\u{201d}: customers who ask it get the AI's answer or the fallback now. "
                        (undo_button(&csrf, id))
                    }
                } },
                Vec::new(),
            )
        }
        Some(Notice::Refused(why)) => (html::notice(Some(&why), false), Vec::new()),
        None => (html! {}, Vec::new()),
    };
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    Ok(html::page(
        "FAQ and canned replies",
        who,
        html! {
            (done)
            @if !overlaps.is_empty() {
                div.notice.warn role="status" {
                    p { "Its words also fit other entries well enough for the FAQ to answer:" }
                    ul { @for (said, other, other_id) in &overlaps {
                        li {
                            "\u{201c}" (said) "\u{201d} also matches \u{201c}" (other) "\u{201d}"
                            // The one-tap fix: the entry just saved answers alone (the other can
                            // be put back for a day, like any deleted entry).
                            form.overlap method="post" action=(format!("/faq/{other_id}/delete")) {
                                (csrf)
                                button type="submit" { "Answer with this entry: delete \u{201c}" (other) "\u{201d}" }
                            }
                        }
                    } }
                    p { "A customer who writes these may get the other entry's answer, or the AI's when the two fit about equally well. Tap the button to let this entry answer alone (you can undo it for a day), or make the two entries' words more different." }
                }
            }
            p { a.button href="/faq/new" { "Add an entry" } " " a href="/faq/missed" { "Questions the FAQ did not answer" } }
            h2 { "Try a question" }
            form.try method="get" action="/faq" {
                label { "What a customer might send" input type="text" name="try" value=(q.try_question.as_deref().unwrap_or("")); }
                button type="submit" { "Try it" }
            }
            @if let Some(t) = &tried { (tried_block(t)) }
            h2 { "Entries (" (total) ")" }
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
            @if !deleted.is_empty() {
                h2 { "Deleted in the last day" }
                ul.deleted { @for r in &deleted {
                    li { "\u{201c}" (r.get::<_, String>(1)) "\u{201d} " small { "(" (r.get::<_, String>(2)) ")" } " " (undo_button(&csrf, r.get(0))) }
                } }
            }
        },
    ))
}

/// What "try a question" found, with why, and the entries that fit best.
pub(crate) fn tried_block(t: &Tried) -> Markup {
    html! {
        div.tried {
            p { "To " q { (t.question) } " the bot would answer: " }
            @match &t.answer {
                Some(a) => blockquote { (a) },
                None => p { em { (html::decision(Some(&t.decision))) } },
            }
            p.why { (why(t)) }
            @if !t.ranked.is_empty() {
                table { thead { tr { th { "The entries that fit best" } th.num { "How well (0 to 1)" } } }
                    tbody { @for (question, score) in &t.ranked { tr { td { (question) } td.num { (format!("{score:.2}")) } } } } }
            }
            p.hint { "Nothing was sent or recorded." }
        }
    }
}

/// The button that puts a deleted entry back.
fn undo_button(csrf: &Markup, deleted: i64) -> Markup {
    html! {
        form.undo method="post" action=(format!("/faq/undo/{deleted}")) { (csrf) button type="submit" { "Undo" } }
    }
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Listing>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| list(tx, who, tenant, &q, None).await,
    )
    .await
}

/// The page of a new entry, empty or as it was refused.
fn new_page(who: &Who, e: &Entry, message: Option<&str>) -> Response {
    html::page(
        "Add an entry",
        who,
        html! {
            (html::notice(message, false))
            (editor(e, "/faq", &html::csrf(who), "Add entry"))
            p { a href="/faq" { "Back to the FAQ" } }
        },
    )
}

/// `/faq/new?missed=...`: a new entry started from a question the FAQ did not answer, its
/// words as the question.
#[derive(Deserialize)]
pub struct Start {
    missed: Option<String>,
}

pub async fn new(State(app): State<App>, session: Session, Query(start): Query<Start>) -> Response {
    app.owner(&session, async |_: &Transaction<'_>, who: &Who, _: Uuid| {
        let missed = start
            .missed
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        let empty = Entry {
            is_active: Some(String::new()),
            question: missed.clone(),
            missed,
            ..Entry::default()
        };
        Ok(new_page(who, &empty, None))
    })
    .await
}

/// Phrasings ($5) are written one a line; empty lines are dropped. A browser sends a text box's
/// lines ended by CR LF: the CR goes too, or every phrasing but the last would end in it.
macro_rules! phrasings {
    () => {
        "(SELECT coalesce(array_agg(btrim(p)), '{}') FROM unnest(string_to_array(replace($5, E'\\r', ''), E'\\n')) p WHERE btrim(p) <> '')"
    };
}

const ADD: &str = concat!("
    INSERT INTO alphadome.bot_training_data (data_type, question, answer, category, phrasings, is_active, bot_tenant_id)
    VALUES ($1, btrim($2), btrim($3), coalesce(nullif(btrim($4), ''), 'Business'), ", phrasings!(), ", $6, $7)
    RETURNING id");

/// $8: the version the form was read at; no row is changed when it is not the version now.
const SAVE: &str = concat!("
    UPDATE alphadome.bot_training_data
       SET data_type = $1, question = btrim($2), answer = btrim($3), category = coalesce(nullif(btrim($4), ''), 'Business'),
           phrasings = ", phrasings!(), ",
           is_active = $6
     WHERE id = $7 AND ", version!(), " = $8");

pub async fn add(State(app): State<App>, session: Session, Posted(e): Posted<Entry>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let added = attempt_query(
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
            Ok(
                match added.map(|rows| rows.first().map(|r| r.get::<_, i64>(0))) {
                    Ok(Some(id)) if !e.missed.trim().is_empty() => {
                        tx.execute(
                            "SELECT alphadome.faq_unanswered_done($1, 'new_entry', $2)",
                            &[&e.missed, &id],
                        )
                        .await?;
                        Redirect::to(&format!("/faq?added={id}")).into_response()
                    }
                    Ok(Some(id)) => Redirect::to(&format!("/faq?added={id}")).into_response(),
                    Ok(None) => new_page(who, &e, Some("The entry was not added: try again.")),
                    Err(m) => new_page(who, &e, Some(&m)),
                },
            )
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
            // Asked before it is done (no script: it opens in place), and undone for a day after.
            details.confirm {
                summary { "Delete this entry" }
                p { "Customers who ask this will get the AI's answer or your no-answer reply instead. You can undo it for a day." }
                form method="post" action=(format!("/faq/{id}/delete")) { (csrf) button.danger type="submit" { "Yes, delete it" } }
            }
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
        missed: String::new(),
    }))
}

pub async fn edit(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let e = entry(tx, id).await?.ok_or(AppError::NotFound)?;
            Ok(edit_page(who, id, &e, None))
        },
    )
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
                Ok(_) => Ok(Redirect::to(&format!("/faq?saved={id}")).into_response()),
                Err(m) => Ok(edit_page(who, id, &e, Some(&m))),
            }
        },
    )
    .await
}

/// Deletes an entry, kept a day to be put back (delete_faq_entry).
pub async fn delete(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(_): Posted<Nothing>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, _: Uuid| {
        let kept: Option<i64> = tx
            .query_one("SELECT alphadome.delete_faq_entry($1)", &[&id])
            .await?
            .get(0);
        match kept {
            Some(kept) => Ok(Redirect::to(&format!("/faq?deleted={kept}")).into_response()),
            None => Err(AppError::NotFound),
        }
    })
    .await
}

/// Puts a deleted entry back (undo_faq_delete), or says why it cannot.
pub async fn undo(
    State(app): State<App>,
    session: Session,
    Path(deleted): Path<i64>,
    Posted(_): Posted<Nothing>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let back = attempt_query(tx, "SELECT alphadome.undo_faq_delete($1)", &[&deleted]).await?;
            let listing = Listing { page: 0, try_question: None, added: None, saved: None, restored: None, deleted: None };
            match back.map(|rows| rows.first().and_then(|r| r.get::<_, Option<i64>>(0))) {
                Ok(Some(id)) => Ok(Redirect::to(&format!("/faq?restored={id}")).into_response()),
                Ok(None) => {
                    let why = "This entry cannot be put back any more: it was deleted more than a day ago, or put back already.";
                    list(tx, who, tenant, &listing, Some(Notice::Refused(why.to_string()))).await
                }
                Err(why) => list(tx, who, tenant, &listing, Some(Notice::Refused(why))).await,
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(ranked: &[(&str, f32)]) -> Tried {
        Tried {
            question: "layaway for the digital piano?".to_string(),
            decision: "llm".to_string(),
            answer: None,
            ranked: ranked.iter().map(|(q, s)| (q.to_string(), *s)).collect(),
            confidence: 0.6,
        }
    }

    /// Why the AI answers is said as the matcher decided it: a tie only when the two are within
    /// the margin; a best entry clearly ahead that still did not answer was contradicted (it was
    /// called a tie, "about equally well", at 0.90 against 0.40).
    #[test]
    fn a_tie_and_a_contradicted_entry_are_told_apart() {
        let tie = why(&tried(&[
            ("Do you repair guitars?", 1.0),
            ("Do you repair instruments?", 1.0),
        ]));
        assert!(tie.contains("about equally well"), "{tie}");
        let contradicted = why(&tried(&[
            ("Do you sell digital pianos?", 0.9),
            ("Can I pay in instalments?", 0.4),
        ]));
        assert!(contradicted.contains("does not cover"), "{contradicted}");
        assert!(!contradicted.contains("equally"), "{contradicted}");
        let weak = why(&tried(&[("Do you sell digital pianos?", 0.5)]));
        assert!(weak.contains("fits 0.50"), "{weak}");
    }
}
