//! "Questions the FAQ did not answer" (issue 29): what customers asked lately that went to the
//! AI or the no-answer reply, most asked first, each with the entry that fits it best and what
//! the AI answered. One tap adds a question as a way of asking that entry; or a new entry is
//! started from it, or it is dismissed. After an add the page shows what the bot now does with
//! the question ("try a question", faq.rs).
use crate::app::{attempt_query, App};
use crate::error::AppError;
use crate::forms::OUTDATED;
use crate::html;
use crate::pages::faq::{self, version};
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The questions of the last $1 days (faq_unanswered) and the shop's FAQ confidence.
const MISSED: &str = "
    SELECT f.message, f.times, to_char(f.last_asked_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'),
           f.ai_answer, s.faq_confidence
      FROM alphadome.faq_unanswered(now() - make_interval(days => $1), now(), 20) f
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = $2";

/// `/faq/missed?days=N`, and what was just done.
#[derive(Deserialize, Default)]
pub struct Listing {
    days: Option<i32>,
    /// A question just added to an entry (its words, and the entry's id).
    added: Option<String>,
    to: Option<i64>,
    /// A question just dismissed.
    dismissed: Option<String>,
}

/// What the page says at its top.
enum Notice {
    /// Added to the entry: what the bot does with the question now.
    Added {
        question: String,
        entry: i64,
    },
    Dismissed(String),
    Refused(String),
}

fn quoted(text: &str) -> String {
    format!("\u{201c}{text}\u{201d}")
}

async fn list(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    days: i32,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let rows = tx.query(MISSED, &[&days, &tenant]).await?;
    let csrf = html::csrf(who);
    let mut cards = Vec::with_capacity(rows.len());
    for r in &rows {
        cards.push(card(tx, tenant, &csrf, days, r).await?);
    }
    let done: Markup = match notice {
        Some(Notice::Added { question, entry }) => {
            let entry_question: Option<String> = tx
                .query_opt(
                    "SELECT question FROM alphadome.bot_training_data WHERE id = $1",
                    &[&entry],
                )
                .await?
                .map(|r| r.get(0));
            let tried = faq::try_question(tx, tenant, &question).await?;
            html! {
                div.notice.ok role="status" {
                    p { "Added " (quoted(&question)) " as a way of asking "
                        (quoted(entry_question.as_deref().unwrap_or("the entry"))) "." }
                    @if tried.decision == "faq" {
                        p { strong { "The FAQ answers it now." } " A customer who sends it gets this entry's answer at once." }
                    } @else {
                        p { strong { "The FAQ does not answer it yet:" } " see why below, or edit the entry." }
                    }
                }
                (faq::tried_block(&tried))
            }
        }
        Some(Notice::Dismissed(question)) => html! {
            p.notice.ok role="status" { "Dismissed " (quoted(&question)) ": it is not shown here again." }
        },
        Some(Notice::Refused(why)) => html::notice(Some(&why), false),
        None => html! {},
    };
    Ok(html::page(
        "Questions the FAQ did not answer",
        who,
        html! {
            (done)
            p.hint {
                "What customers asked in the last " (days) " days that no FAQ entry answered: the AI or your no-answer reply answered instead. "
                "Add a question to the entry it belongs to, and the FAQ answers it next time, at once."
            }
            form.days method="get" action="/faq/missed" {
                label { "Messages of the last " input type="number" name="days" min="1" max="90" value=(days); " days" }
                button type="submit" { "Show" }
            }
            @if rows.is_empty() {
                p { "None: the FAQ answered every question it could." }
            } @else {
                ul.missed { @for card in &cards { (card) } }
            }
            p { a href="/faq" { "Back to the FAQ" } }
        },
    ))
}

/// The entries that fit a question best (match_faq), each with its version for the one-tap add.
const CLOSEST: &str = concat!(
    "SELECT f.id, f.question, f.score, (SELECT ",
    version!(),
    " FROM alphadome.bot_training_data e WHERE e.id = f.id)
       FROM alphadome.match_faq($1, $2, 3) f WHERE f.score > 0"
);

/// An entry a question may be added to: its id, question and version.
struct Candidate {
    id: i64,
    question: String,
    version: String,
}

/// One question as a card: how often, what the AI answered, where it seems to belong in words
/// (not scores), and the taps: add it to one of the entries that fit best, start a new entry
/// from it, or dismiss it. A question that fits no entry well offers the new entry first.
async fn card(
    tx: &Transaction<'_>,
    tenant: Uuid,
    csrf: &Markup,
    days: i32,
    r: &tokio_postgres::Row,
) -> Result<Markup, AppError> {
    let message: String = r.get(0);
    let confidence: f32 = r.get(4);
    let times: i64 = r.get(1);
    let mut scores = Vec::new();
    let mut candidates = Vec::new();
    for row in tx.query(CLOSEST, &[&tenant, &message]).await? {
        let score: f32 = row.get(2);
        // Below a quarter of the FAQ's confidence an entry shares a stray word at most.
        if !scores.is_empty() && score < confidence / 4.0 {
            break;
        }
        scores.push(score);
        if let Some(version) = row.get::<_, Option<String>>(3) {
            candidates.push(Candidate {
                id: row.get(0),
                question: row.get(1),
                version,
            });
        }
    }
    // A likely home: the best entry shares enough words (half the FAQ's confidence) and stands
    // clear of the next (the matcher's margin, 0.1); a tie between two entries is no home.
    let best = scores.first().copied().unwrap_or(0.0);
    let next = scores.get(1).copied().unwrap_or(0.0);
    let fits = !candidates.is_empty() && best >= confidence / 2.0 && best - next >= 0.1;
    let start = serde_urlencoded::to_string([("missed", message.as_str())]).unwrap_or_default();
    let new_entry = html! { a.button.secondary[fits] href=(format!("/faq/new?{start}")) { "Start a new entry from it" } };
    Ok(html! {
        li {
            p.what { strong { (quoted(&message)) } " "
                small { @if times == 1 { "asked once" } @else { "asked " (times) " times" } ", last " (r.get::<_, String>(2)) } }
            @if let Some(answer) = r.get::<_, Option<String>>(3) {
                p { "The AI answered:" } blockquote { (answer) }
            }
            @if fits {
                p.hint { "It seems to belong to " (quoted(&candidates[0].question)) "." }
            } @else if let Some(closest) = candidates.first() {
                p.hint { "No entry fits it well (the closest is " (quoted(&closest.question)) "): it may need an entry of its own." }
            } @else {
                p.hint { "No entry comes close: it may need an entry of its own." }
            }
            div.actions {
                @if !fits { (new_entry) }
                @for c in &candidates {
                    form method="post" action="/faq/missed/add" {
                        (csrf)
                        input type="hidden" name="entry" value=(c.id);
                        input type="hidden" name="version" value=(c.version);
                        input type="hidden" name="message" value=(message);
                        input type="hidden" name="days" value=(days);
                        button.secondary[!fits || c.id != candidates[0].id] type="submit" { "Add as a way of asking " (quoted(&c.question)) }
                    }
                }
                @if fits { (new_entry) }
                form method="post" action="/faq/missed/dismiss" {
                    (csrf)
                    input type="hidden" name="message" value=(message);
                    input type="hidden" name="days" value=(days);
                    button.secondary type="submit" { "Dismiss" }
                }
            }
        }
    })
}

fn days(asked: Option<i32>) -> i32 {
    asked.unwrap_or(7).clamp(1, 90)
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Listing>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let notice = match (q.added.clone(), q.to, q.dismissed.clone()) {
                (Some(question), Some(entry), _) => Some(Notice::Added { question, entry }),
                (_, _, Some(question)) => Some(Notice::Dismissed(question)),
                _ => None,
            };
            list(tx, who, tenant, days(q.days), notice).await
        },
    )
    .await
}

/// The one tap: a question added as a way of asking an entry.
#[derive(Deserialize)]
pub struct Add {
    entry: i64,
    /// The entry's version when the page was drawn (faq.rs's VERSION).
    #[serde(default)]
    version: String,
    #[serde(default)]
    message: String,
    days: Option<i32>,
}

pub async fn add(State(app): State<App>, session: Session, Posted(form): Posted<Add>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            const NOW: &str = concat!(
                "SELECT ",
                version!(),
                " FROM alphadome.bot_training_data WHERE id = $1 FOR UPDATE"
            );
            let now: Option<String> = tx.query_opt(NOW, &[&form.entry]).await?.map(|r| r.get(0));
            let days = days(form.days);
            match now {
                None => Err(AppError::NotFound),
                // Changed elsewhere since the page was drawn: nothing added, the page as it is now.
                Some(now) if now != form.version => {
                    list(
                        tx,
                        who,
                        tenant,
                        days,
                        Some(Notice::Refused(OUTDATED.to_string())),
                    )
                    .await
                }
                Some(_) => {
                    let added = attempt_query(
                        tx,
                        "SELECT alphadome.add_faq_phrasing($1, $2)",
                        &[&form.entry, &form.message],
                    )
                    .await?;
                    match added {
                        Ok(_) => {
                            let query = serde_urlencoded::to_string([
                                ("added", form.message.trim().to_string()),
                                ("to", form.entry.to_string()),
                                ("days", days.to_string()),
                            ])
                            .unwrap_or_default();
                            Ok(Redirect::to(&format!("/faq/missed?{query}")).into_response())
                        }
                        Err(why) => list(tx, who, tenant, days, Some(Notice::Refused(why))).await,
                    }
                }
            }
        },
    )
    .await
}

/// "Dismiss": not something for the FAQ; not shown again.
#[derive(Deserialize)]
pub struct Dismiss {
    #[serde(default)]
    message: String,
    days: Option<i32>,
}

pub async fn dismiss(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<Dismiss>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, _: Uuid| {
        tx.execute(
            "SELECT alphadome.faq_unanswered_done($1, 'dismissed')",
            &[&form.message],
        )
        .await?;
        let query = serde_urlencoded::to_string([
            ("dismissed", form.message.trim().to_string()),
            ("days", days(form.days).to_string()),
        ])
        .unwrap_or_default();
        Ok(Redirect::to(&format!("/faq/missed?{query}")).into_response())
    })
    .await
}
