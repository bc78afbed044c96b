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

/// The questions of the last $1 days (faq_unanswered), with their closest entry's version (for
/// the one-tap add, as the entry's own form carries it) and the shop's FAQ confidence.
const MISSED: &str = concat!(
    "SELECT f.message, f.times, to_char(f.last_asked_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'),
            f.closest_entry_id, f.closest_question, f.closest_score, f.ai_answer, s.faq_confidence,
            (SELECT ",
    version!(),
    " FROM alphadome.bot_training_data e WHERE e.id = f.closest_entry_id)
       FROM alphadome.faq_unanswered(now() - make_interval(days => $1), now(), 20) f
       JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = $2"
);

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
                ul.missed { @for r in &rows { (card(&csrf, days, r)) } }
            }
            p { a href="/faq" { "Back to the FAQ" } }
        },
    ))
}

/// One question as a card: how often, what the AI answered, the closest entry, the three taps.
fn card(csrf: &Markup, days: i32, r: &tokio_postgres::Row) -> Markup {
    let message: String = r.get(0);
    let times: i64 = r.get(1);
    let closest: Option<(i64, String, f32)> = match (r.get(3), r.get(4), r.get(5)) {
        (Some(id), Some(question), Some(score)) => Some((id, question, score)),
        _ => None,
    };
    let confidence: f32 = r.get(7);
    let version: Option<String> = r.get(8);
    let start = serde_urlencoded::to_string([("missed", message.as_str())]).unwrap_or_default();
    html! {
        li {
            p.what { strong { (quoted(&message)) } " "
                small { @if times == 1 { "asked once" } @else { "asked " (times) " times" } ", last " (r.get::<_, String>(2)) } }
            @if let Some(answer) = r.get::<_, Option<String>>(6) {
                p { "The AI answered:" } blockquote { (answer) }
            }
            @match &closest {
                Some((_, question, score)) => p.hint {
                    "Closest entry: " (quoted(question)) ", fits " (format!("{score:.2}"))
                    " (the FAQ answers from " (format!("{confidence:.2}")) ")."
                },
                None => p.hint { "No entry comes close." },
            }
            div.actions {
                @if let (Some((id, question, _)), Some(version)) = (&closest, &version) {
                    form method="post" action="/faq/missed/add" {
                        (csrf)
                        input type="hidden" name="entry" value=(id);
                        input type="hidden" name="version" value=(version);
                        input type="hidden" name="message" value=(message);
                        input type="hidden" name="days" value=(days);
                        button type="submit" { "Add as a way of asking " (quoted(question)) }
                    }
                }
                a.button href=(format!("/faq/new?{start}")) { "Start a new entry from it" }
                form method="post" action="/faq/missed/dismiss" {
                    (csrf)
                    input type="hidden" name="message" value=(message);
                    input type="hidden" name="days" value=(days);
                    button.secondary type="submit" { "Dismiss" }
                }
            }
        }
    }
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
