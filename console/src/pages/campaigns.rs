//! Campaigns (issue 26): the shop's WhatsApp templates with Meta's verdict (a new one written and
//! sent for review here), and campaigns of an approved template to the customers who agreed:
//! who receives it, who not and why, what it costs, then sending, pausing and the results.
use crate::app::{attempt, attempt_query, App};
use crate::error::AppError;
use crate::forms::{optional, Nothing};
use crate::html;
use crate::money::amount;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::Value;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The shop's templates, newest first, with Meta's reason in plain words for a rejected one.
const TEMPLATES: &str = "
    SELECT w.name, w.language, coalesce(lower(w.category), '-'), w.status, coalesce(w.body, ''),
           alphadome.template_rejection_words(w.rejected_reason)
      FROM alphadome.whatsapp_templates w
     WHERE w.bot_tenant_id = $1
     ORDER BY w.updated_at DESC, w.name";

/// The shop's campaigns, newest first, with how far each got.
const CAMPAIGNS: &str = "
    SELECT c.id, c.name, c.status, c.template_name,
           count(r.id), count(r.id) FILTER (WHERE r.status IN ('sent', 'delivered', 'read')),
           count(r.id) FILTER (WHERE r.status = 'failed'), to_char(c.created_at, 'YYYY-MM-DD')
      FROM alphadome.campaigns c
      LEFT JOIN alphadome.campaign_recipients r ON r.bot_tenant_id = c.bot_tenant_id AND r.campaign_id = c.id
     WHERE c.bot_tenant_id = $1
     GROUP BY c.bot_tenant_id, c.id
     ORDER BY c.id DESC
     LIMIT 50";

#[derive(serde::Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

pub async fn page(State(app): State<App>, session: Session, Query(done): Query<Done>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            list(tx, who, tenant, notice_of(done.done.as_deref()), true).await
        },
    )
    .await
}

fn notice_of(done: Option<&str>) -> Option<String> {
    match done? {
        "template" => {
            Some("Sent to WhatsApp for review: its status shows here once Meta decides.".into())
        }
        "sync" => Some("Reading the templates from WhatsApp: refresh in a moment.".into()),
        _ => None,
    }
}

async fn list(
    tx: &Transaction<'_>,
    who: &Who,
    tenant: Uuid,
    message: Option<String>,
    ok: bool,
) -> Result<Response, AppError> {
    let templates = tx.query(TEMPLATES, &[&tenant]).await?;
    let campaigns = tx.query(CAMPAIGNS, &[&tenant]).await?;
    let approved: Vec<(String, String)> = templates
        .iter()
        .filter(|t| t.get::<_, String>(3) == "APPROVED")
        .map(|t| (t.get(0), t.get(1)))
        .collect();
    Ok(html::page(
        "Campaigns",
        who,
        html! {
            (html::notice(message.as_deref(), ok))
            p.hint { "A campaign sends one of your WhatsApp templates (approved by Meta) to the customers who agreed to hear from you. Customers who sent STOP never get one." }
            h2 { "Campaigns" }
            @if campaigns.is_empty() { p { "No campaign yet." } }
            ul.list { @for c in &campaigns {
                li { a href=(format!("/campaigns/{}", c.get::<_, i64>(0))) { strong { (c.get::<_, String>(1)) } }
                     " · " (status_words(&c.get::<_, String>(2))) " · " (c.get::<_, String>(3))
                     @if c.get::<_, i64>(4) > 0 { " · " (c.get::<_, i64>(5)) " of " (c.get::<_, i64>(4)) " sent" }
                     @if c.get::<_, i64>(6) > 0 { ", " (c.get::<_, i64>(6)) " failed" }
                     " · " small { (c.get::<_, String>(7)) } }
            } }
            details.new #new-campaign open[campaigns.is_empty() && !approved.is_empty()] {
                summary { "New campaign" }
                @if approved.is_empty() {
                    p { "A campaign needs a template Meta has approved: write one below." }
                } @else {
                    form method="post" action="/campaigns" {
                        (html::csrf(who))
                        label { "Name" input name="name" required maxlength="200" placeholder="December sale"; }
                        label { "Template" select name="template" {
                            @for (name, language) in &approved { option value=(format!("{name}|{language}")) { (name) " (" (language) ")" } }
                        } }
                        p.hint { "The template's {{1}}, {{2}}, ... in order. {first_name}, {name} and {phone} are filled in for each customer." }
                        label { "{{1}}" input name="p1" placeholder="{first_name}"; }
                        label { "{{2}}" input name="p2"; }
                        label { "{{3}}" input name="p3"; }
                        label { "Only customers labelled (comma-separated; empty: all)" input name="labels" placeholder="keyboards"; }
                        label { "Only customers who wrote in the last ... days (empty: any time)" input name="days" type="number" min="1" max="3650"; }
                        button type="submit" { "See who receives it" }
                    }
                }
            }
            h2 { "Templates" }
            form.inline method="post" action="/campaigns/templates/sync" { (html::csrf(who)) button type="submit" { "Refresh from WhatsApp" } }
            table.templates {
                thead { tr { th { "Template" } th { "Category" } th { "Status" } th { "Text" } } }
                tbody { @for t in &templates { tr {
                    td { (t.get::<_, String>(0)) " (" (t.get::<_, String>(1)) ")" }
                    td { (t.get::<_, String>(2)) }
                    td { (template_status(&t.get::<_, String>(3)))
                         @if let Some(why) = t.get::<_, Option<String>>(5) { br; small { (why) } } }
                    td { (t.get::<_, String>(4)) }
                } } }
            }
            details.new #new-template {
                summary { "New template" }
                form method="post" action="/campaigns/templates" {
                    (html::csrf(who))
                    label { "Name (lower case, digits, _)" input name="name" required pattern="[a-z0-9_]+" placeholder="december_sale"; }
                    label { "Category" select name="category" { option value="marketing" { "Marketing (offers, news)" } option value="utility" { "Utility (an order, an appointment)" } } }
                    label { "Language" input name="language" required value="en"; }
                    label { "Header (optional)" input name="header" maxlength="60"; }
                    label { "Text, with {{1}}, {{2}}, ... for what changes per customer" textarea name="body" required maxlength="1024" rows="4" {} }
                    label { "An example for {{1}}" input name="e1"; }
                    label { "An example for {{2}}" input name="e2"; }
                    label { "A quick-reply button (optional)" input name="b1" maxlength="25" placeholder="Stop promotions"; }
                    button type="submit" { "Send to WhatsApp for review" }
                }
            }
        },
    ))
}

fn status_words(status: &str) -> &'static str {
    match status {
        "draft" => "not sent yet",
        "scheduled" => "scheduled",
        "sending" => "sending",
        "paused" => "paused",
        "cancelled" => "cancelled",
        "done" => "sent",
        _ => "other",
    }
}

fn template_status(status: &str) -> &'static str {
    match status {
        "APPROVED" => "approved",
        "PENDING" => "waiting for Meta's review",
        "REJECTED" => "rejected",
        "PAUSED" => "paused by Meta",
        "DISABLED" => "disabled by Meta",
        _ => "other",
    }
}

#[derive(serde::Deserialize)]
pub struct TemplateForm {
    name: String,
    category: String,
    language: String,
    body: String,
    #[serde(default)]
    header: String,
    #[serde(default)]
    e1: String,
    #[serde(default)]
    e2: String,
    #[serde(default)]
    b1: String,
}

pub async fn create_template(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<TemplateForm>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let examples: Vec<String> = [&form.e1, &form.e2]
                .into_iter()
                .filter_map(|e| optional(e))
                .collect();
            let buttons: Vec<String> = optional(&form.b1).into_iter().collect();
            let sql = "SELECT alphadome.create_template($1, $2, $3, $4, $5, $6, $7)";
            let header = optional(&form.header);
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                &form.name.trim(),
                &form.category,
                &form.language.trim(),
                &form.body,
                &examples,
                &header,
                &buttons,
            ];
            match attempt(tx, sql, &params).await? {
                Ok(_) => Ok(Redirect::to("/campaigns?done=template").into_response()),
                Err(why) => list(tx, who, tenant, Some(why), false).await,
            }
        },
    )
    .await
}

pub async fn sync_templates(
    State(app): State<App>,
    session: Session,
    _: Posted<Nothing>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| match attempt(
            tx,
            "SELECT alphadome.sync_templates()",
            &[],
        )
        .await?
        {
            Ok(_) => Ok(Redirect::to("/campaigns?done=sync").into_response()),
            Err(why) => list(tx, who, tenant, Some(why), false).await,
        },
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct CampaignForm {
    name: String,
    template: String,
    #[serde(default)]
    p1: String,
    #[serde(default)]
    p2: String,
    #[serde(default)]
    p3: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    days: String,
}

pub async fn create(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<CampaignForm>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let (name, language) = form
                .template
                .split_once('|')
                .unwrap_or((&form.template, ""));
            let parameters: Vec<String> = [&form.p1, &form.p2, &form.p3]
                .into_iter()
                .map_while(|p| optional(p))
                .collect();
            let labels: Vec<String> = form.labels.split(',').filter_map(optional).collect();
            let days: Option<i32> = match optional(&form.days) {
                None => None,
                Some(d) => match d.parse::<i32>() {
                    Ok(d) if (1..=3650).contains(&d) => Some(d),
                    _ => {
                        return list(
                            tx,
                            who,
                            tenant,
                            Some("The days are a number from 1 to 3650.".into()),
                            false,
                        )
                        .await
                    }
                },
            };
            let sql =
                "SELECT alphadome.create_campaign($1, $2, $3, $4, $5, make_interval(days => $6))";
            match attempt_query(
                tx,
                sql,
                &[&form.name, &name, &language, &parameters, &labels, &days],
            )
            .await?
            {
                Ok(rows) => {
                    let id: i64 = rows[0].get(0);
                    Ok(Redirect::to(&format!("/campaigns/{id}")).into_response())
                }
                Err(why) => list(tx, who, tenant, Some(why), false).await,
            }
        },
    )
    .await
}

/// One campaign: before it goes, who receives it, who not and why, and the cost, with "Send";
/// then its progress and results (the page refreshes itself while it sends), pause and cancel.
pub async fn one(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| show(tx, who, id, None).await,
    )
    .await
}

async fn show(
    tx: &Transaction<'_>,
    who: &Who,
    id: i64,
    refused: Option<String>,
) -> Result<Response, AppError> {
    let Some(campaign) = tx
        .query_opt(
            "SELECT name, status, template_name, template_language, parameters, labels,
                    coalesce(extract(day FROM contacted_within)::int, 0)
               FROM alphadome.campaigns WHERE id = $1",
            &[&id],
        )
        .await?
    else {
        return Err(AppError::NotFound);
    };
    let status: String = campaign.get(1);
    let parameters: Vec<String> = campaign.get(4);
    let labels: Vec<String> = campaign.get(5);
    let days: i32 = campaign.get(6);
    let about = html! {
        p { "Template " strong { (campaign.get::<_, String>(2)) } " (" (campaign.get::<_, String>(3)) ")"
            @if !parameters.is_empty() { ", with " (parameters.join(", ")) }
            ". To " @if labels.is_empty() { "every customer who agreed" } @else { "customers labelled " (labels.join(", ")) }
            @if days > 0 { " who wrote in the last " (days) " days" } "." }
    };
    let body = if status == "draft" {
        let preview: Value = tx
            .query_one("SELECT alphadome.campaign_preview($1)", &[&id])
            .await?
            .get(0);
        let n = |path: &[&str]| {
            path.iter()
                .fold(&preview, |v, k| &v[*k])
                .as_i64()
                .unwrap_or(0)
        };
        let cents = (preview["estimated_cost"].as_f64().unwrap_or(0.0) * 100.0).round() as i64;
        html! {
            (about)
            dl.preview {
                dt { "Will receive it" } dd.big { (n(&["receive"])) }
                dt { "Left out: never agreed to offers" } dd { (n(&["excluded", "no_opt_in"])) }
                dt { "Left out: sent STOP" } dd { (n(&["excluded", "opted_out"])) }
                dt { "Left out: over your number's limit of " (n(&["messaging_limit"])) " customers a day" } dd { (n(&["excluded", "beyond_limit"])) }
                dt { "Estimated cost" } dd.big { (preview["currency"].as_str().unwrap_or("")) " " (amount(cents)) }
            }
            p.hint { "Meta charges for each message it delivers. Messages go out " (n(&["rate_per_second"])) " a second." }
            form method="post" action=(format!("/campaigns/{id}/start")) {
                (html::csrf(who))
                button type="submit" { "Send to " (n(&["receive"])) " customers" }
            }
            form.inline method="post" action=(format!("/campaigns/{id}/cancel")) { (html::csrf(who)) button.secondary type="submit" { "Discard" } }
        }
    } else {
        let r = tx.query_one(
            "SELECT recipients, queued, sent, delivered, read, replied, opted_out_after, failed, failed_by_reason,
                    cancelled, currency, (cost * 100)::bigint FROM alphadome.campaign_results($1)",
            &[&id],
        ).await?;
        let failed_by: Value = r.get(8);
        html! {
            (about)
            p { "Status: " strong { (status_words(&status)) } }
            progress aria-label="Sent so far" max=(r.get::<_, i64>(0).max(1)) value=(r.get::<_, i64>(2) + r.get::<_, i64>(7)) {}
            table.totals { tbody {
                tr { th { "Customers" } td.num { (r.get::<_, i64>(0)) } }
                tr { th { "Waiting to go" } td.num { (r.get::<_, i64>(1)) } }
                tr { th { "Sent" } td.num { (r.get::<_, i64>(2)) } }
                tr { th { "Delivered" } td.num { (r.get::<_, i64>(3)) } }
                tr { th { "Read" } td.num { (r.get::<_, i64>(4)) } }
                tr { th { "Replied" } td.num { (r.get::<_, i64>(5)) } }
                tr { th { "Opted out after it" } td.num { (r.get::<_, i64>(6)) } }
                tr { th { "Failed" } td.num { (r.get::<_, i64>(7)) } }
                @for (code, n) in failed_by.as_object().into_iter().flatten() {
                    tr { th { small { (failure_words(code)) } } td.num { (n) } }
                }
                tr { th { "Cancelled" } td.num { (r.get::<_, i64>(9)) } }
                tr { th { "Cost so far" } td.num { (r.get::<_, String>(10)) " " (amount(r.get(11))) } }
            } }
            @if status == "sending" || status == "scheduled" {
                form.inline method="post" action=(format!("/campaigns/{id}/pause")) { (html::csrf(who)) button type="submit" { "Pause" } }
            }
            @if status == "paused" {
                form.inline method="post" action=(format!("/campaigns/{id}/resume")) { (html::csrf(who)) button type="submit" { "Resume" } }
            }
            @if ["sending", "scheduled", "paused"].contains(&status.as_str()) {
                form.inline method="post" action=(format!("/campaigns/{id}/cancel")) { (html::csrf(who)) button.secondary type="submit" { "Cancel" } }
            }
        }
    };
    let title = campaign.get::<_, String>(0);
    let content = html! { (html::notice(refused.as_deref(), false)) (body) p { a href="/campaigns" { "All campaigns" } } };
    Ok(if status == "sending" {
        html::refreshing_page(&title, who, content, 5)
    } else {
        html::page(&title, who, content)
    })
}

/// Meta's failure codes as the owner reads them.
fn failure_words(code: &str) -> String {
    match code {
        "131049" => "Meta held it back: this customer got many marketing messages lately".into(),
        "131026" => "Undeliverable (not on WhatsApp, or an old app)".into(),
        "131047" => "Outside the 24-hour window".into(),
        "131050" => "The customer stopped marketing messages in WhatsApp".into(),
        other => format!("Meta's error {other}"),
    }
}

/// start, pause, resume, cancel: a campaign function, then back to the campaign.
async fn act(app: App, session: Session, id: i64, sql: &'static str) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| match attempt(tx, sql, &[&id]).await? {
            Ok(_) => Ok(Redirect::to(&format!("/campaigns/{id}")).into_response()),
            Err(why) if why.starts_with("no campaign ") => Err(AppError::NotFound),
            Err(why) => show(tx, who, id, Some(why)).await,
        },
    )
    .await
}

pub async fn start(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(app, session, id, "SELECT alphadome.start_campaign($1)").await
}

pub async fn pause(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(app, session, id, "SELECT alphadome.pause_campaign($1)").await
}

pub async fn resume(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(app, session, id, "SELECT alphadome.resume_campaign($1)").await
}

pub async fn cancel(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    _: Posted<Nothing>,
) -> Response {
    act(app, session, id, "SELECT alphadome.cancel_campaign($1)").await
}
