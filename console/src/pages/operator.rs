//! The operator's pages: tenants with their credentials' state and queues, onboarding a client,
//! rotating a token, giving an owner a login. Secrets go to the database as bind parameters, are
//! never shown again, and never logged.

use crate::app::{attempt, attempt_query, App};
use crate::forms::optional;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    error: Option<String>,
}

pub async fn tenants(State(app): State<App>, session: Session, Query(q): Query<Done>) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, who: &Who| {
        let rows = tx
            .query(
                "SELECT t.id, t.slug, t.client_name, t.is_active, t.credential_status,
                        coalesce(to_char(t.token_expires_at, 'YYYY-MM-DD'), 'never'),
                        coalesce(q.queued, 0), coalesce(q.dead, 0),
                        (SELECT count(*) FROM alphadome.console_accounts a WHERE a.bot_tenant_id = t.id)
                   FROM alphadome.bot_tenants t LEFT JOIN alphadome.queue_status q ON q.tenant_id = t.id
                  ORDER BY t.slug",
                &[],
            )
            .await?;
        let accounts = tx
            .query(
                "SELECT a.id, a.email, a.bot_tenant_id, a.is_agent FROM alphadome.console_accounts a
                  WHERE a.bot_tenant_id IS NOT NULL ORDER BY a.is_agent, lower(a.email)",
                &[],
            )
            .await?;
        let notice = match (q.done.as_deref(), q.error.as_deref()) {
            (Some("reset"), _) => Some(("A link to choose a new password was emailed to that login's address. It works once, for 30 minutes.", true)),
            (_, Some("reset")) => Some(("No link was sent: this console cannot send emails (ALPHADOME_SMTP_URL and ALPHADOME_CONSOLE_PUBLIC_URL).", false)),
            (Some("token"), _) => Some(("The token was replaced; the tenant's sends go on.", true)),
            (Some("owner"), _) => Some(("The owner's login was made: give them the password by phone, not by email.", true)),
            (Some("tenant"), _) => Some(("The client was onboarded.", true)),
            (_, Some(_)) => Some(("That was refused: check the values and try again.", false)),
            _ => None,
        };
        let csrf = html::csrf(who);
        Ok(html::page(
            "Tenants",
            who,
            html! {
                @if let Some((m, ok)) = notice { (html::notice(Some(m), ok)) }
                table.tenants.cards {
                    thead { tr { th { "Tenant" } th { "Active" } th { "Token" } th { "Expires" } th.num { "Queued" } th.num { "Dead" } th.num { "Logins" } } }
                    tbody { @for r in &rows { tr {
                        td.lead { strong { (r.get::<_, String>(2)) } br; small { (r.get::<_, String>(1)) } }
                        td data-label="Active" { (if r.get::<_, bool>(3) { "yes" } else { "no" }) }
                        td data-label="Token" class=(format!("status {}", r.get::<_, String>(4))) { (r.get::<_, String>(4)) }
                        td data-label="Expires" { (r.get::<_, String>(5)) }
                        td.num data-label="Queued" { (r.get::<_, i64>(6)) } td.num data-label="Dead" { (r.get::<_, i64>(7)) } td.num data-label="Logins" { (r.get::<_, i64>(8)) }
                    } } }
                }
                @for r in &rows {
                    @let id: Uuid = r.get(0);
                    details {
                        summary { (r.get::<_, String>(2)) ": rotate its token, its logins" }
                        @let logins: Vec<_> = accounts.iter().filter(|a| a.get::<_, Option<Uuid>>(2) == Some(id)).collect();
                        @if !logins.is_empty() {
                            ul.logins { @for a in &logins {
                                li {
                                    (a.get::<_, String>(1)) (if a.get::<_, bool>(3) { " (staff)" } else { " (owner)" })
                                    form.inline method="post" action=(format!("/operator/accounts/{}/reset", a.get::<_, Uuid>(0))) {
                                        (csrf)
                                        button type="submit" { "Email a new-password link" }
                                    }
                                }
                            } }
                        }
                        form method="post" action=(format!("/operator/tenants/{id}/token")) {
                            (csrf)
                            label { "New WhatsApp access token" input type="password" name="token" autocomplete="off" required; }
                            label { "It expires on (empty: never)" input type="date" name="expires"; }
                            button type="submit" { "Replace the token" }
                        }
                        form method="post" action=(format!("/operator/tenants/{id}/owner")) {
                            (csrf)
                            label { "Owner's email" input type="email" name="email" required; }
                            label { "A first password (at least 10 characters)" input type="password" name="password" autocomplete="new-password" minlength="10" required; }
                            button type="submit" { "Make the owner's login" }
                        }
                    }
                }
                p { a href="/operator/tenants/new" { "Onboard a new client" } }
            },
        ))
    })
    .await
}

/// The onboarding form's fields; the four secrets are never put back into a page.
#[derive(Deserialize, Default)]
pub struct NewTenant {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    client_name: String,
    #[serde(default)]
    client_phone: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    whatsapp_phone_number_id: String,
    #[serde(default)]
    whatsapp_access_token: String,
    #[serde(default)]
    token_expires_at: String,
    #[serde(default)]
    ai_api_key: String,
    #[serde(default)]
    ai_model: String,
    #[serde(default)]
    ai_base_url: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    webhook_verify_token: String,
}

fn onboarding(who: &Who, t: &NewTenant, message: Option<&str>) -> Response {
    let text = |name: &str, label: &str, value: &str, required: bool| {
        html! { label { (label) input type="text" name=(name) value=(value) required[required]; } }
    };
    let secret = |name: &str, label: &str, required: bool| {
        html! { label { (label) input type="password" name=(name) autocomplete="off" required[required]; } }
    };
    html::page(
        "Onboard a new client",
        who,
        html! {
            (html::notice(message, false))
            @if message.is_some() { p.hint { "For your safety the secrets were not kept: type them again." } }
            form method="post" action="/operator/tenants/new" {
                (html::csrf(who))
                fieldset { legend { "The business" }
                    (text("slug", "Slug (its webhook: /webhook/{slug})", &t.slug, true))
                    (text("client_name", "Name", &t.client_name, true))
                    (text("client_phone", "Business phone", &t.client_phone, true))
                    (text("client_email", "Owner's email", &t.client_email, false))
                    (text("country_code", "Country code of local numbers", if t.country_code.is_empty() { "254" } else { &t.country_code }, true))
                }
                fieldset { legend { "WhatsApp (Meta)" }
                    (text("whatsapp_phone_number_id", "Phone number id", &t.whatsapp_phone_number_id, true))
                    (secret("whatsapp_access_token", "Access token", true))
                    label { "Token expires on (empty: never)" input type="date" name="token_expires_at" value=(t.token_expires_at); }
                    (secret("app_secret", "App secret (its own Meta app; empty: the shared app)", false))
                    (secret("webhook_verify_token", "Webhook verify token (its own Meta app)", false))
                }
                fieldset { legend { "AI" }
                    (secret("ai_api_key", "API key", false))
                    (text("ai_model", "Model (empty: gpt-4o-mini)", &t.ai_model, false))
                    (text("ai_base_url", "OpenAI-compatible base URL (empty: the relay's)", &t.ai_base_url, false))
                }
                button type="submit" { "Onboard the client" }
            }
        },
    )
}

pub async fn new_tenant(State(app): State<App>, session: Session) -> Response {
    app.operator(&session, async |_: &Transaction<'_>, who: &Who| {
        Ok(onboarding(who, &NewTenant::default(), None))
    })
    .await
}

pub async fn create_tenant(
    State(app): State<App>,
    session: Session,
    Posted(t): Posted<NewTenant>,
) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, who: &Who| {
        let created = attempt(
            tx,
            "SELECT alphadome.create_tenant(slug => $1, client_name => $2, client_phone => $3, whatsapp_phone_number_id => $4,
                    whatsapp_access_token => $5, ai_api_key => $6, app_secret => $7, webhook_verify_token => $8,
                    token_expires_at => $9::text::timestamptz, client_email => $10, ai_model => $11, ai_base_url => $12,
                    country_code => coalesce($13, '254'))",
            &[
                &t.slug.trim(),
                &t.client_name.trim(),
                &t.client_phone,
                &t.whatsapp_phone_number_id.trim(),
                &t.whatsapp_access_token.trim(),
                &optional(&t.ai_api_key),
                &optional(&t.app_secret),
                &optional(&t.webhook_verify_token),
                &optional(&t.token_expires_at),
                &optional(&t.client_email),
                &optional(&t.ai_model),
                &optional(&t.ai_base_url),
                &optional(&t.country_code),
            ],
        )
        .await?;
        Ok(match created {
            Ok(_) => Redirect::to("/operator?done=tenant").into_response(),
            Err(message) => onboarding(who, &t, Some(&message)),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct Token {
    token: String,
    #[serde(default)]
    expires: String,
}

pub async fn rotate_token(
    State(app): State<App>,
    session: Session,
    Path(id): Path<String>,
    Posted(form): Posted<Token>,
) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, _: &Who| {
        // A malformed id is refused like any id the database refuses.
        let Ok(id) = id.parse::<Uuid>() else {
            return Ok(Redirect::to("/operator?error=token").into_response());
        };
        let rotated = attempt(
            tx,
            "SELECT alphadome.set_credentials($1, whatsapp_access_token => $2,
                    token_expires_at => coalesce($3::text::timestamptz, 'infinity'))",
            &[&id, &form.token.trim(), &optional(&form.expires)],
        )
        .await?;
        Ok(match rotated {
            Ok(_) => Redirect::to("/operator?done=token").into_response(),
            Err(_) => Redirect::to("/operator?error=token").into_response(),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct Owner {
    email: String,
    password: String,
}

pub async fn create_owner(
    State(app): State<App>,
    session: Session,
    Path(id): Path<String>,
    Posted(form): Posted<Owner>,
) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, _: &Who| {
        // A malformed id is refused like any id the database refuses.
        let Ok(id) = id.parse::<Uuid>() else {
            return Ok(Redirect::to("/operator?error=owner").into_response());
        };
        let made = attempt(
            tx,
            "SELECT alphadome.create_owner($1, $2, $3)",
            &[&id, &form.email, &form.password],
        )
        .await?;
        Ok(match made {
            Ok(_) => Redirect::to("/operator?done=owner").into_response(),
            Err(_) => Redirect::to("/operator?error=owner").into_response(),
        })
    })
    .await
}

/// The operator sends a login a link to choose a new password, to the login's own address:
/// the operator never learns or sets the password (a temporary one would travel by phone or
/// chat and stay in use), and the owner chooses his own through the same rules.
pub async fn send_reset_link(
    State(app): State<App>,
    session: Session,
    Path(id): Path<String>,
    Posted(_): Posted<crate::forms::Nothing>,
) -> Response {
    app.operator(&session, async |tx: &Transaction<'_>, _: &Who| {
        let Ok(id) = id.parse::<Uuid>() else {
            return Err(crate::error::AppError::NotFound);
        };
        if !app.can_send_links() {
            return Ok(Redirect::to("/operator?error=reset").into_response());
        }
        let made = attempt_query(
            tx,
            "SELECT reset_token, account_email FROM alphadome.operator_password_reset($1)",
            &[&id],
        )
        .await?;
        match made.ok().and_then(|rows| rows.into_iter().next()) {
            Some(row) => {
                app.send_reset_link(
                    row.get(1),
                    row.get(0),
                    crate::pages::recovery::Sender::Operator,
                );
                Ok(Redirect::to("/operator?done=reset").into_response())
            }
            None => Err(crate::error::AppError::NotFound),
        }
    })
    .await
}
