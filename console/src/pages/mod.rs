//! The pages, by what they are about. Owners' pages read and write under row-level security as
//! alphadome_tenant; an id in a URL that is not the owner's finds no row, and answers 404.
mod account;
mod alerts;
mod conversations;
mod faq;
mod operator;
mod overview;
mod replay;
mod settings;
mod templates;
mod usage;

use crate::server::App;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/account",
            get(account::page).post(account::change_password),
        )
        .route("/", get(overview::page))
        .route("/switch", post(overview::switch))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/templates", get(templates::page).post(templates::add))
        .route("/templates/{id}", post(templates::save))
        .route("/templates/{id}/delete", post(templates::delete))
        .route("/faq", get(faq::page).post(faq::add))
        .route("/faq/{id}", get(faq::edit).post(faq::save))
        .route("/faq/{id}/delete", post(faq::delete))
        .route("/conversations", get(conversations::page))
        .route("/conversations/{id}", get(conversations::thread))
        .route("/conversations/{id}/handoff", post(conversations::handoff))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}", get(alerts::one))
        .route("/usage", get(usage::page))
        .route("/replay", get(replay::page))
        .route("/operator", get(operator::tenants))
        .route("/operator/alerts", get(alerts::operator_page))
        .route(
            "/operator/tenants/new",
            get(operator::new_tenant).post(operator::create_tenant),
        )
        .route("/operator/tenants/{id}/token", post(operator::rotate_token))
        .route("/operator/tenants/{id}/owner", post(operator::create_owner))
}

/// A form with nothing but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct Nothing {}

/// `?page=N` (from 0) of a long list.
#[derive(serde::Deserialize, Default)]
pub struct Paging {
    #[serde(default)]
    pub page: i64,
}

impl Paging {
    pub fn offset(&self, per_page: i64) -> i64 {
        self.page.clamp(0, 100_000) * per_page
    }
}

/// A form's text box as the database wants it: trimmed, NULL when empty.
pub fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}
