//! Every path of the console, the stylesheet, and what every request goes through (body limit
//! and time, request time, security headers).
use crate::app::App;
use crate::pages::{
    account, alerts, campaigns, conversations, faq, faq_missed, hours, operator, overview,
    products, recovery, replay, settings, templates, usage,
};
use alphadome_service::layers::{protect, Protection};
use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use std::time::Duration;

/// The largest form: a template's 8,000-character prompt, percent-encoded, with room to spare.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Longest a request may take, its database work included, before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Our one small script (static/refresh.js) and no other, styles only ours, forms only to us,
/// no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../static/console.css");
const REFRESH_SCRIPT: &str = include_str!("../static/refresh.js");

pub fn router(app: App, body_timeout: Duration) -> Router {
    let stylesheet = get(|| async {
        (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            STYLESHEET,
        )
    });
    let routes = Router::new()
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route("/forgot", get(recovery::forgot_page).post(recovery::forgot))
        .route("/reset", get(recovery::reset_page).post(recovery::reset))
        .route(
            "/account",
            get(account::page).post(account::change_password),
        )
        .route("/account/staff", post(account::add_staff))
        .route("/", get(overview::page))
        .route("/switch", post(overview::switch))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/hours", get(hours::page).post(hours::save))
        .route("/templates", get(templates::page).post(templates::add))
        .route("/templates/{id}", post(templates::save))
        .route("/templates/{id}/delete", post(templates::delete))
        .route("/personality", post(templates::save_personality))
        .route("/products", get(products::page).post(products::add))
        .route("/products.csv", get(products::export))
        .route("/products/import", post(products::import))
        .route("/products/{id}", get(products::edit).post(products::save))
        .route("/products/{id}/delete", post(products::delete))
        .route("/faq", get(faq::page).post(faq::add))
        .route("/faq/new", get(faq::new))
        .route("/faq/missed", get(faq_missed::page))
        .route("/faq/missed/add", post(faq_missed::add))
        .route("/faq/missed/dismiss", post(faq_missed::dismiss))
        .route("/faq/undo/{id}", post(faq::undo))
        .route("/faq/{id}", get(faq::edit).post(faq::save))
        .route("/faq/{id}/delete", post(faq::delete))
        .route("/conversations", get(conversations::page))
        .route("/conversations/{id}", get(conversations::thread))
        .route("/conversations/{id}/handoff", post(conversations::handoff))
        .route("/conversations/{id}/reply", post(conversations::reply))
        .route(
            "/conversations/{id}/template",
            post(conversations::template),
        )
        .route("/conversations/{id}/resolve", post(conversations::resolve))
        .route("/conversations/{id}/labels", post(conversations::labels))
        .route("/conversations/{id}/consent", post(conversations::consent))
        .route(
            "/conversations/{id}/handback",
            post(conversations::handback),
        )
        .route(
            "/conversations/{id}/templates",
            post(conversations::sync_templates),
        )
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}", get(alerts::one))
        .route("/alerts/{id}/done", post(alerts::done))
        .route("/usage", get(usage::page))
        .route("/campaigns", get(campaigns::page).post(campaigns::create))
        .route("/campaigns/templates", post(campaigns::create_template))
        .route("/campaigns/templates/sync", post(campaigns::sync_templates))
        .route("/campaigns/{id}", get(campaigns::one))
        .route("/campaigns/{id}/start", post(campaigns::start))
        .route("/campaigns/{id}/pause", post(campaigns::pause))
        .route("/campaigns/{id}/resume", post(campaigns::resume))
        .route("/campaigns/{id}/cancel", post(campaigns::cancel))
        .route("/replay", get(replay::page))
        .route("/operator", get(operator::tenants))
        .route("/operator/alerts", get(alerts::operator_page))
        .route(
            "/operator/tenants/new",
            get(operator::new_tenant).post(operator::create_tenant),
        )
        .route("/operator/tenants/{id}/token", post(operator::rotate_token))
        .route("/operator/tenants/{id}/owner", post(operator::create_owner))
        .route(
            "/operator/accounts/{id}/reset",
            post(operator::send_reset_link),
        )
        .route("/static/console.css", stylesheet)
        .route(
            "/static/refresh.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    REFRESH_SCRIPT,
                )
            }),
        )
        .with_state(app)
        .layer(axum::middleware::from_fn(back_after_login))
        .layer(axum::middleware::from_fn(no_nul_in_the_query));
    protect(
        routes,
        Protection {
            body_limit: BODY_LIMIT,
            body_timeout: Some(body_timeout),
            request_timeout: REQUEST_TIMEOUT,
            content_security_policy: CONTENT_SECURITY_POLICY,
        },
    )
}

/// A page asked for without a session (an alert's link to a conversation, opened on a phone
/// whose session ended) is sent to the login page with where it was going, `/login?then=...`,
/// so that logging in lands there and not on the overview.
async fn back_after_login(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let wanted = (request.method() == axum::http::Method::GET)
        .then(|| {
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
        })
        .flatten()
        .filter(|p| crate::pages::account::then_path(p).is_some() && p != "/");
    let mut response = next.run(request).await;
    if let Some(wanted) = wanted {
        if response.status().is_redirection()
            && response
                .headers()
                .get(header::LOCATION)
                .is_some_and(|l| l == "/login")
        {
            if let Ok(query) = serde_urlencoded::to_string([("then", wanted.as_str())]) {
                if let Ok(location) = format!("/login?{query}").parse() {
                    response.headers_mut().insert(header::LOCATION, location);
                }
            }
        }
    }
    response
}

/// A query string with a NUL byte (%00) is no request a page of ours makes, and text with one
/// cannot reach the database: 400 before any handler sees it.
async fn no_nul_in_the_query(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let query = request.uri().query().unwrap_or("").as_bytes();
    if query.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")) {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "a query parameter holds a NUL byte",
        )
            .into_response();
    }
    next.run(request).await
}
