//! The page frame and small pieces every page uses. maud escapes every value it is given, so a
//! customer's or an owner's text is shown as text, never run.
use crate::who::Who;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// A whole page for a logged-in account.
pub fn page(title: &str, who: &Who, body: Markup) -> Response {
    framed(title, who, body, None)
}

/// A page a person keeps open (the inbox): it reloads itself every `seconds` while nobody types
/// in it (static/refresh.js), so a new customer message shows without a tap.
pub fn refreshing_page(title: &str, who: &Who, body: Markup, seconds: u32) -> Response {
    framed(title, who, body, Some(seconds))
}

fn framed(title: &str, who: &Who, body: Markup, refresh: Option<u32>) -> Response {
    let nav: &[(&str, &str)] = if who.agent {
        &[("/conversations", "Conversations"), ("/account", "Account")]
    } else if who.operator {
        &[
            ("/operator", "Tenants"),
            ("/operator/tenants/new", "New client"),
            ("/operator/alerts", "Alerts"),
            ("/account", "Account"),
        ]
    } else {
        &[
            ("/", "Overview"),
            ("/hours", "Hours"),
            ("/settings", "Settings"),
            ("/templates", "AI persona"),
            ("/faq", "FAQ"),
            ("/products", "Products"),
            ("/conversations", "Conversations"),
            ("/alerts", "Alerts"),
            ("/campaigns", "Campaigns"),
            ("/usage", "Usage"),
            ("/replay", "Replay"),
            ("/account", "Account"),
        ]
    };
    let links = html! { @for (href, label) in nav { a href=(href) { (label) } } };
    let logout = html! {
        form.logout method="post" action="/logout" {
            (csrf(who))
            span.who { (who.email) }
            button type="submit" { "Log out" }
        }
    };
    // A laptop shows the pages in a row; a phone one "Menu" button that opens them (no script:
    // <details>). The stylesheet shows one of the two.
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    a.brand href="/" { @if let Some(name) = &who.tenant_name { (name) } @else { "AlphaDome" } }
                    nav.wide aria-label="Pages" { (links) }
                    div.wide { (logout) }
                    details.menu {
                        summary { "Menu" }
                        nav aria-label="Menu" { (links) }
                        (logout)
                    }
                }
                main data-refresh=[refresh] { h1 { (title) } (body) }
                @if refresh.is_some() { script src="/static/refresh.js" defer {} }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page without an account (login, errors).
pub fn bare(title: &str, message: &str) -> Response {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" { (head(title)) body { main.narrow { h1 { (title) } p { (message) } p { a href="/" { "Back" } } } } }
        }
        .into_string(),
    )
    .into_response()
}

pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · AlphaDome" }
            link rel="stylesheet" href="/static/console.css";
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(who: &Who) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

/// A notice above a form: what went wrong, or what was done.
pub fn notice(message: Option<&str>, ok: bool) -> Markup {
    html! {
        @if let Some(m) = message {
            p class=(if ok { "notice ok" } else { "notice error" }) role="status" { (m) }
        }
    }
}

/// A checkbox that posts "on" when ticked.
pub fn checkbox(name: &str, label: &str, checked: bool) -> Markup {
    html! { label.check { input type="checkbox" name=(name) value="on" checked[checked]; " " (label) } }
}

/// A decision as the owner reads it.
pub fn decision(name: Option<&str>) -> &'static str {
    match name.unwrap_or("") {
        "faq" => "FAQ answer",
        "faq_semantic" => "FAQ answer (by meaning)",
        "llm" => "AI answer",
        "fallback" => "no-answer reply",
        "type_reply" => "reply for its type",
        "escalated" => "sent to a person",
        "after_hours" => "after-hours reply",
        "opt_out" => "opted out",
        "opt_in" => "opted in",
        "opted_out" => "opted out (silent)",
        "bot_disabled" => "bot off",
        "human_handoff" => "a person has it",
        "rate_limited" => "hourly limit",
        "recorded" => "recorded",
        "transcribe" => "being transcribed",
        "waiting" => "waiting for a person",
        "history" => "from the app's history",
        "opt_out_confirm" => "asked if they want to stop",
        "product" => "prices from the products",
        "payment" => "buying",
        "" => "-",
        _ => "other",
    }
}
