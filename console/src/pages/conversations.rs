//! The shop's inbox: who waits for a person and since when, each conversation with what the bot
//! decided and how every reply fared, and a reply box: a person answers from the shop's number
//! (free text within Meta's 24-hour window, an approved template after it), then gives the
//! conversation back to the bot or marks it resolved. The owner and his staff (agents) use it.
use crate::app::{attempt, App};
use crate::error::AppError;
use crate::forms::{Nothing, Paging};
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

const PER_PAGE: i64 = 50;

/// The pages refresh themselves this often (static/refresh.js; a page being typed in waits).
const REFRESH_SECONDS: u32 = 15;

/// "3 min", "1 h 5 min", "2 days".
pub fn minutes_words(minutes: i32) -> String {
    match minutes.max(0) {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => match m % 60 {
            0 => format!("{} h", m / 60),
            rest => format!("{} h {rest} min", m / 60),
        },
        m => format!("{} days", m / (24 * 60)),
    }
}

/// A conversation's state in words the owner reads.
fn state_words(state: &str) -> &'static str {
    match state {
        "waiting" => "waiting for a person",
        "person" => "a person has it",
        "resolved" => "resolved",
        _ => "the bot answers",
    }
}

/// `?state=waiting&page=N`. (Not Paging flattened in: serde's flatten reads a query's numbers
/// as strings, and every ?page= answered 400.)
#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    page: i64,
}

impl Filter {
    fn paging(&self) -> Paging {
        Paging { page: self.page }
    }
}

/// One page of the inbox, waiting customers first (longest first), then those a person has,
/// then the others by their last message; each with what the customer last wrote (read only for
/// the rows shown). $1: a state to show only, or NULL.
const INBOX: &str = "
    WITH shown AS (
        SELECT c.* FROM alphadome.conversations c
         WHERE $1::text IS NULL OR c.state = $1
         ORDER BY c.waiting_since IS NULL, c.waiting_since, c.handoff_at IS NULL,
                  greatest(c.last_inbound_at, c.handoff_at) DESC NULLS LAST, c.id DESC
         LIMIT $2 OFFSET $3)
    SELECT c.id, coalesce(c.customer_name, ''), c.customer_key::text, c.state,
           ceil(extract(epoch FROM now() - c.waiting_since) / 60)::int,
           coalesce(to_char(last.created_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'), ''),
           coalesce(left(last.words, 140), ''), coalesce(last.direction::text, ''), c.opted_out_at IS NOT NULL
      FROM shown c
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = c.bot_tenant_id
      LEFT JOIN LATERAL (
          SELECT m.created_at, m.direction, coalesce(m.body, m.transcript, '(' || m.message_type || ')') AS words
            FROM alphadome.messages m
           WHERE m.bot_tenant_id = c.bot_tenant_id AND m.conversation_id = c.id AND m.direction = 'inbound'
           ORDER BY m.created_at DESC LIMIT 1) last ON true
     ORDER BY c.waiting_since IS NULL, c.waiting_since, c.handoff_at IS NULL,
              greatest(c.last_inbound_at, c.handoff_at) DESC NULLS LAST, c.id DESC";

/// How many conversations are in each state.
const COUNTS: &str = "SELECT count(*), count(*) FILTER (WHERE c.state = 'waiting'),
                             count(*) FILTER (WHERE c.state = 'person'), count(*) FILTER (WHERE c.state = 'resolved')
                        FROM alphadome.conversations c";

pub async fn page(
    State(app): State<App>,
    session: Session,
    Query(filter): Query<Filter>,
) -> Response {
    app.inbox(&session, async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
        let state = filter
            .state
            .as_deref()
            .filter(|s| ["bot", "waiting", "person", "resolved"].contains(s));
        let counts = tx.query_one(COUNTS, &[]).await?;
        let (all, waiting, person, resolved): (i64, i64, i64, i64) =
            (counts.get(0), counts.get(1), counts.get(2), counts.get(3));
        let total = match state {
            Some("waiting") => waiting,
            Some("person") => person,
            Some("resolved") => resolved,
            Some(_) => all - waiting - person - resolved,
            None => all,
        };
        let rows = tx
            .query(INBOX, &[&state, &PER_PAGE, &filter.paging().offset(PER_PAGE)])
            .await?;
        let pages = (total + PER_PAGE - 1) / PER_PAGE;
        let tab = |value: Option<&str>, label: String| {
            let href = value.map_or("/conversations".to_string(), |v| format!("/conversations?state={v}"));
            html! { @if state == value { strong { (label) } } @else { a href=(href) { (label) } } }
        };
        Ok(html::refreshing_page(
            "Conversations",
            who,
            html! {
                nav.tabs aria-label="Show" {
                    (tab(None, format!("All {all}"))) " "
                    (tab(Some("waiting"), format!("Waiting {waiting}"))) " "
                    (tab(Some("person"), format!("With a person {person}"))) " "
                    (tab(Some("resolved"), format!("Resolved {resolved}")))
                }
                @if rows.is_empty() { p { "No conversations here." } }
                ul.inbox { @for r in &rows {
                    @let (id, name, number, row_state): (i64, String, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
                    li class=(format!("state-{row_state}")) {
                        a href=(format!("/conversations/{id}")) {
                            span.who { @if name.is_empty() { "+" (number) } @else { (name) " " small { "+" (number) } } }
                            span.where {
                                (state_words(&row_state))
                                @if let Some(minutes) = r.get::<_, Option<i32>>(4) { " · " (minutes_words(minutes)) }
                                @if r.get::<_, bool>(8) { " · opted out" }
                            }
                            @let last: String = r.get(6);
                            @if !last.is_empty() {
                                span.last { (r.get::<_, String>(5)) " · " @if r.get::<_, String>(7) == "outbound" { "↩ " } (last) }
                            }
                        }
                    }
                } }
                @if pages > 1 {
                    p.pages { @for p in 0..pages.min(200) {
                        @if p == filter.page { strong { (p + 1) } } @else {
                            a href=(match state { Some(s) => format!("/conversations?state={s}&page={p}"), None => format!("/conversations?page={p}") }) { (p + 1) }
                        } " "
                    } }
                }
            },
            REFRESH_SECONDS,
        ))
    })
    .await
}

/// The conversation, for its page: name, number, state, whether Meta's 24-hour window is open,
/// opted out, how long the customer has waited.
const CONVERSATION: &str = "
    SELECT coalesce(c.customer_name, ''), c.customer_key::text, c.state,
           coalesce(c.last_inbound_at > now() - interval '24 hours', false), c.opted_out_at IS NOT NULL,
           ceil(extract(epoch FROM now() - c.waiting_since) / 60)::int,
           t.whatsapp_business_account_id IS NOT NULL,
           array_to_string(c.labels, ', '),
           CASE WHEN c.marketing_consent_at IS NOT NULL AND c.opted_out_at IS NULL
                     AND (c.marketing_withdrawn_at IS NULL OR c.marketing_withdrawn_at < c.marketing_consent_at)
                THEN to_char(c.marketing_consent_at, 'DD Mon YYYY') || ', ' || c.marketing_consent_source END,
           c.marketing_asked_at IS NOT NULL
      FROM alphadome.conversations c JOIN alphadome.bot_tenants t ON t.id = c.bot_tenant_id
     WHERE c.id = $1";

/// Its messages, oldest first: direction, words, decision, status, time, voice note, who wrote
/// an outbound one and whether it was this account, Meta's error title for a failed one.
const MESSAGES: &str = "
    SELECT m.direction::text, coalesce(m.body, m.transcript, '(' || m.message_type || ')'), m.decision::text,
           m.status, to_char(m.created_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'), m.transcript IS NOT NULL,
           coalesce(m.sent_by::text, 'bot'), m.sent_by_account IS NOT DISTINCT FROM $2,
           coalesce(m.error -> 0 ->> 'title', m.error ->> 'title', m.error -> 0 ->> 'message')
      FROM alphadome.messages m JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = m.bot_tenant_id
     WHERE m.conversation_id = $1
     ORDER BY m.created_at, m.id
     LIMIT 500";

/// A person's replies not sent yet, or not sent at all: waiting in the queue, or dead with the
/// reason.
const PENDING: &str = "
    SELECT o.payload ->> 'text', o.status, coalesce(o.last_error ->> 'message', '')
      FROM alphadome.outbox o
     WHERE o.kind = 'reply.send' AND o.payload ->> 'conversation_id' = $1::text
       AND o.status IN ('queued', 'running', 'dead')
     ORDER BY o.id";

/// The shop's saved replies, to start a reply from.
const CANNED: &str = "SELECT d.id, d.question, d.answer FROM alphadome.bot_training_data d
                       WHERE d.data_type = 'canned_reply' AND d.is_active ORDER BY d.question LIMIT 30";

/// The shop's approved templates: name, language, body.
const TEMPLATES: &str =
    "SELECT w.name, w.language, coalesce(w.body, '') FROM alphadome.whatsapp_templates w
                          WHERE w.status = 'APPROVED' ORDER BY w.name, w.language";

#[derive(Deserialize, Default)]
pub struct ThreadQuery {
    /// A saved reply to start the reply box with.
    #[serde(default)]
    canned: Option<i64>,
    /// What was just done, to say so.
    #[serde(default)]
    done: Option<String>,
}

/// What the page says after a person's action, or why it did not happen.
enum Notice {
    Done(&'static str),
    Refused(String),
}

pub async fn thread(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Query(query): Query<ThreadQuery>,
) -> Response {
    app.inbox(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let draft = match query.canned {
                Some(canned) => tx
                    .query(CANNED, &[])
                    .await?
                    .iter()
                    .find(|r| r.get::<_, i64>(0) == canned)
                    .map(|r| r.get::<_, String>(2))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let notice = match query.done.as_deref() {
                Some("sent") => Some(Notice::Done(
                    "Sending: it shows below once WhatsApp has it.",
                )),
                Some("template") => Some(Notice::Done(
                    "Template sending: it shows below once WhatsApp has it.",
                )),
                Some("synced") => Some(Notice::Done(
                    "Asked WhatsApp for the shop's templates: reload in a moment.",
                )),
                Some("resolved") => Some(Notice::Done(
                    "Marked resolved: the bot answers this customer's next message.",
                )),
                Some("back") => Some(Notice::Done("Given back to the bot.")),
                Some("labels") => Some(Notice::Done("Labels saved.")),
                Some("asked") => Some(Notice::Done(
                    "Asked: a yes is recorded as agreeing to offers.",
                )),
                Some("taken") => Some(Notice::Done(
                    "You have this conversation: the bot stays silent.",
                )),
                _ => None,
            };
            render(tx, who, id, notice, &draft).await
        },
    )
    .await
}

async fn render(
    tx: &Transaction<'_>,
    who: &Who,
    id: i64,
    notice: Option<Notice>,
    draft: &str,
) -> Result<Response, AppError> {
    let c = tx
        .query_opt(CONVERSATION, &[&id])
        .await?
        .ok_or(AppError::NotFound)?;
    let (name, number, state, window_open, opted_out, waited): (
        String,
        String,
        String,
        bool,
        bool,
        Option<i32>,
    ) = (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5));
    let templates_connected: bool = c.get(6);
    let (labels, consent, asked): (String, Option<String>, bool) = (c.get(7), c.get(8), c.get(9));
    let account = who.account;
    let messages = tx.query(MESSAGES, &[&id, &account]).await?;
    let pending = tx.query(PENDING, &[&id.to_string()]).await?;
    let canned = tx.query(CANNED, &[]).await?;
    let templates = if window_open {
        Vec::new()
    } else {
        tx.query(TEMPLATES, &[]).await?
    };
    let title = if name.is_empty() {
        format!("+{number}")
    } else {
        format!("{name} +{number}")
    };
    // A page drawn for a refused POST must not reload: that would post again.
    let refused = matches!(notice, Some(Notice::Refused(_)));
    let body = html! {
        @match notice {
            Some(Notice::Done(text)) => p.done role="status" { (text) },
            Some(Notice::Refused(text)) => p.error role="alert" { (text) },
            None => {},
        }
        p.where {
            @match state.as_str() {
                "waiting" => { strong { "Waiting for a person" } @if let Some(m) = waited { " for " (minutes_words(m)) } ": the bot is silent until someone answers." },
                "person" => { strong { "A person has this conversation" } ": the bot stays silent." },
                "resolved" => { strong { "Resolved" } ": the bot answers the customer's next message." },
                _ => { strong { "The bot answers this customer." } },
            }
        }
        div.actions {
            @if state == "waiting" || state == "person" {
                (action(who, id, "handback", "Give back to the bot"))
                (action(who, id, "resolve", "Resolved"))
            } @else {
                form method="post" action=(format!("/conversations/{id}/handoff")) {
                    (html::csrf(who))
                    input type="hidden" name="take" value="true";
                    button type="submit" { "Take it over" }
                }
            }
        }
        @if opted_out { p.notice { "This customer opted out: nothing is sent until they write START." } }
        ol.thread { @for m in &messages {
            @let outbound = m.get::<_, String>(0) == "outbound";
            li class=(if outbound { "out" } else { "in" }) {
                div.text { (m.get::<_, String>(1)) @if m.get::<_, bool>(5) { " " small { "(voice note)" } } }
                div.meta {
                    (m.get::<_, String>(4)) " · "
                    @if outbound {
                        (sender(&m.get::<_, String>(6), m.get::<_, bool>(7))) " · " (m.get::<_, String>(3))
                        @if let Some(error) = m.get::<_, Option<String>>(8) { " · " span.error { (error) } }
                    } @else { (html::decision(m.get::<_, Option<&str>>(2))) }
                }
            }
        } }
        @if !pending.is_empty() {
            ol.thread.pending { @for p in &pending {
                li.out {
                    div.text { (p.get::<_, Option<String>>(0).unwrap_or_default()) }
                    div.meta { @if p.get::<_, String>(1) == "dead" { span.error { "Not sent: " (p.get::<_, String>(2)) } } @else { "Sending…" } }
                }
            } }
        }
        details.customer {
            summary { "Labels and offers" }
            form method="post" action=(format!("/conversations/{id}/labels")) {
                (html::csrf(who))
                label { "Labels (comma-separated), for choosing who gets a campaign" input name="labels" value=(labels) maxlength="2000"; }
                button type="submit" { "Save labels" }
            }
            @match &consent {
                Some(how) => p { "Agreed to offers: " (how) "." },
                None => p { "Has not agreed to offers: campaigns leave this customer out." },
            }
            @if consent.is_none() && window_open && !opted_out {
                (action(who, id, "consent", if asked { "Ask again if they want offers" } else { "Ask if they want offers" }))
            }
        }
        @if !opted_out {
            @if window_open {
                form.reply method="post" action=(format!("/conversations/{id}/reply")) {
                    (html::csrf(who))
                    label for="reply-text" { "Your reply to " (if name.is_empty() { &number } else { &name }) }
                    textarea id="reply-text" name="text" rows="4" maxlength="4096" required { (draft) }
                    button type="submit" { "Send" }
                }
                @if !canned.is_empty() {
                    details.canned {
                        summary { "Start from a saved reply" }
                        ul { @for r in &canned { li { a href=(format!("/conversations/{id}?canned={}#reply-text", r.get::<_, i64>(0))) { (r.get::<_, String>(1)) } } } }
                    }
                }
            } @else {
                p.notice { "More than 24 hours have passed since this customer last wrote. WhatsApp only lets the shop send one of its approved templates now; free text is possible again once the customer writes." }
                p { "You can also call them: " a href=(format!("tel:+{number}")) { "+" (number) } "." }
                @if !templates_connected {
                    p { "Templates are not connected for this shop yet: your AlphaDome operator connects the shop's WhatsApp Business account, then its approved templates show here." }
                } @else {
                    @if templates.is_empty() {
                        p { "The shop has no approved template yet. Templates are made in Meta's WhatsApp Manager and checked by Meta; once approved, refresh them here." }
                    }
                    @for t in &templates { (template_form(who, id, &t.get::<_, String>(0), &t.get::<_, String>(1), &t.get::<_, String>(2))) }
                    (action(who, id, "templates", "Refresh the templates from WhatsApp"))
                }
            }
        }
    };
    Ok(if refused {
        html::page(&title, who, body)
    } else {
        html::refreshing_page(&title, who, body, REFRESH_SECONDS)
    })
}

/// Who wrote an outbound message, in words.
fn sender(sent_by: &str, by_this_account: bool) -> &'static str {
    match (sent_by, by_this_account) {
        ("person", true) => "you",
        ("person", false) => "a person",
        ("app", _) => "the WhatsApp app",
        _ => "the bot",
    }
}

/// A button that posts to /conversations/{id}/{what}.
fn action(who: &Who, id: i64, what: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(format!("/conversations/{id}/{what}")) {
            (html::csrf(who))
            button type="submit" { (label) }
        }
    }
}

/// How many {{n}} parameters a template's body takes (as the database counts them).
fn parameters(body: &str) -> usize {
    let mut highest = 0;
    for piece in body.split("{{").skip(1) {
        if let Some((n, _)) = piece.split_once("}}") {
            if let Ok(n) = n.parse::<usize>() {
                highest = highest.max(n);
            }
        }
    }
    highest
}

fn template_form(who: &Who, id: i64, name: &str, language: &str, body: &str) -> Markup {
    let count = parameters(body).min(MAX_PARAMETERS);
    html! {
        form.template method="post" action=(format!("/conversations/{id}/template")) {
            (html::csrf(who))
            input type="hidden" name="template" value=(name);
            input type="hidden" name="language" value=(language);
            p { strong { (name) } " (" (language) "): " (body) }
            @for n in 1..=count {
                @let field = format!("t-{name}-{language}-{n}");
                label for=(field) { "{{" (n) "}}" }
                input id=(field) type="text" name=(format!("p{n}")) required maxlength="1000";
            }
            button type="submit" { "Send this template" }
        }
    }
}

/// The most parameters a template form offers.
const MAX_PARAMETERS: usize = 6;

#[derive(Deserialize)]
pub struct Reply {
    #[serde(default)]
    text: String,
}

/// A person's reply (send_human_reply): sent from the shop's number, or the page again with why
/// not and the text kept.
pub async fn reply(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<Reply>,
) -> Response {
    app.inbox(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| match call(
            tx,
            "SELECT alphadome.send_human_reply($1, $2)",
            &[&id, &form.text],
        )
        .await?
        {
            Ok(()) => Ok(Redirect::to(&format!("/conversations/{id}?done=sent")).into_response()),
            Err(why) => render(tx, who, id, Some(Notice::Refused(why)), &form.text).await,
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct TemplateForm {
    template: String,
    language: String,
    p1: Option<String>,
    p2: Option<String>,
    p3: Option<String>,
    p4: Option<String>,
    p5: Option<String>,
    p6: Option<String>,
}

pub async fn template(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<TemplateForm>,
) -> Response {
    app.inbox(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let params: Vec<String> = [&form.p1, &form.p2, &form.p3, &form.p4, &form.p5, &form.p6]
                .into_iter()
                .map_while(|p| p.clone())
                .collect();
            let sql = "SELECT alphadome.send_template($1, $2, $3, $4)";
            match call(tx, sql, &[&id, &form.template, &form.language, &params]).await? {
                Ok(()) => {
                    Ok(Redirect::to(&format!("/conversations/{id}?done=template")).into_response())
                }
                Err(why) => render(tx, who, id, Some(Notice::Refused(why)), "").await,
            }
        },
    )
    .await
}

/// Runs a call a person's input may make fail (app::attempt): Ok(Err(why)) in plain words; a
/// conversation that is not the shop's is a page that does not exist.
async fn call(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Result<(), String>, AppError> {
    match attempt(tx, sql, params).await? {
        Ok(_) => Ok(Ok(())),
        // Another tenant's id looks exactly like a missing one (inbox.sql's _own_conversation).
        Err(why) if why.starts_with("no conversation ") => Err(AppError::NotFound),
        Err(why) => Ok(Err(why)),
    }
}

/// A person's one-button actions on a conversation, each an extension function that checks the
/// conversation is the shop's, then back to the conversation with what was done.
async fn act(
    app: App,
    session: Session,
    id: i64,
    sql: &'static str,
    done: &'static str,
) -> Response {
    app.inbox(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| match call(tx, sql, &[&id]).await? {
            Ok(()) => Ok(Redirect::to(&format!("/conversations/{id}?done={done}")).into_response()),
            Err(why) => render(tx, who, id, Some(Notice::Refused(why)), "").await,
        },
    )
    .await
}

pub async fn resolve(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(
        app,
        session,
        id,
        "SELECT alphadome.resolve_conversation($1)",
        "resolved",
    )
    .await
}

pub async fn handback(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(app, session, id, "SELECT alphadome.hand_back($1)", "back").await
}

pub async fn sync_templates(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(
        app,
        session,
        id,
        "SELECT alphadome.sync_templates() IS NULL AND $1::bigint IS NOT NULL",
        "synced",
    )
    .await
}

/// Asks the customer the shop's opt-in question (ask_marketing_consent).
pub async fn consent(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(
        app,
        session,
        id,
        "SELECT alphadome.ask_marketing_consent($1)",
        "asked",
    )
    .await
}

#[derive(Deserialize)]
pub struct Labels {
    #[serde(default)]
    labels: String,
}

/// The customer's labels (set_customer_labels), comma-separated in the form.
pub async fn labels(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<Labels>,
) -> Response {
    app.inbox(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let labels: Vec<String> = form
                .labels
                .split(',')
                .map(|l| l.trim().to_string())
                .collect();
            match call(
                tx,
                "SELECT alphadome.set_customer_labels($1, $2)",
                &[&id, &labels],
            )
            .await?
            {
                Ok(()) => {
                    Ok(Redirect::to(&format!("/conversations/{id}?done=labels")).into_response())
                }
                Err(why) => render(tx, who, id, Some(Notice::Refused(why)), "").await,
            }
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct Handoff {
    take: String,
}

/// "Take it over" (and, from older pages, giving it back).
pub async fn handoff(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(form): Posted<Handoff>,
) -> Response {
    let (sql, done) = match form.take.as_str() {
        "true" => ("SELECT alphadome.take_over($1)", "taken"),
        _ => ("SELECT alphadome.hand_back($1)", "back"),
    };
    act(app, session, id, sql, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_minutes_hours_and_days() {
        assert_eq!(minutes_words(0), "0 min");
        assert_eq!(minutes_words(14), "14 min");
        assert_eq!(minutes_words(60), "1 h");
        assert_eq!(minutes_words(65), "1 h 5 min");
        assert_eq!(minutes_words(3 * 24 * 60 + 5), "3 days");
        assert_eq!(minutes_words(-3), "0 min");
    }

    #[test]
    fn a_templates_parameters_are_its_highest_number() {
        assert_eq!(parameters("Hello {{1}}, your order {{2}} is ready."), 2);
        assert_eq!(parameters("{{2}} then {{1}}"), 2);
        assert_eq!(parameters("No parameters {{x}} {{"), 0);
    }
}
