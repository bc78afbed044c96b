//! The console on a public URL: the same hostile clients as the relay's (relay/tests/hostile.rs,
//! the checks in alphadome_e2e::hostile), at its login form.
mod common;

use alphadome_console::router::BODY_LIMIT;
use alphadome_e2e::hostile::{self, Service};
use common::*;

/// The console as a hostile::Service: its login page, and a login to POST.
fn service(shop: &Shop) -> Service {
    Service {
        addr: shop.addr(),
        pid: shop.pid(),
        quick_path: "/login".into(),
        post_path: "/login".into(),
        post_headers: "content-type: application/x-www-form-urlencoded\r\n".into(),
        body: format!("email={OWNER}&password=not-the-password").into_bytes(),
    }
}

#[test]
fn slow_silent_unfinished_and_oversized_clients_are_answered_and_connections_capped() {
    hostile::raise_open_files_limit(8192);
    let shop = Shop::start_with(&[
        ("ALPHADOME_HEADER_TIMEOUT", "1"),
        ("ALPHADOME_BODY_TIMEOUT", "1"),
        ("ALPHADOME_MAX_CONNECTIONS", "20"),
    ]);
    let console = service(&shop);
    hostile::slow_and_missing_headers_are_cut_off(&console);
    hostile::a_slow_body_gets_408(&console);
    hostile::a_body_over_the_limit_is_refused(&console, BODY_LIMIT);
    hostile::unfinished_large_bodies_are_answered(&console, 30.0);
    hostile::idle_connections_beyond_the_cap_wait(&console, 20);
    let failed_logins: i64 = shop
        .db()
        .query_one("SELECT count(*) FROM alphadome.console_login_failures", &[])
        .unwrap()
        .get(0);
    assert_eq!(failed_logins, 0, "no unfinished login reached the database");
}

#[test]
fn a_thousand_idle_connections_leave_the_login_page_quick_and_memory_bounded() {
    hostile::raise_open_files_limit(8192);
    let shop = Shop::start();
    let visitor = Visitor::new(&shop);
    hostile::idle_connections_leave_it_quick_and_bounded(&service(&shop), 50.0, || {
        assert_eq!(visitor.get("/account").0, 303, "to the login page");
    });
}

/// By default (not plain http) a login sets a `__Host-`, Secure cookie that lives as long as
/// the session may idle; a form from this host by another scheme is refused; a NUL byte in a
/// query parameter is a 400, not a 500.
#[test]
fn cookies_are_secure_by_default_origins_have_a_scheme_and_a_nul_in_the_query_is_400() {
    let shop = Shop::start_with(&[("ALPHADOME_CONSOLE_INSECURE_COOKIES", "false")]);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |origin: &str| {
        http.post(format!("{}/login", shop.url))
            .header("origin", origin)
            .form(&[("email", OWNER), ("password", PASSWORD)])
            .send()
            .unwrap()
    };
    let secure = format!("https://{}", shop.addr());
    let answer = login(&secure);
    assert_eq!(answer.status(), 303);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-alphadome_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Max-Age=14400"),
        "{cookie}"
    );
    assert_eq!(login(&format!("http://{}", shop.addr())).status(), 403);
    for path in ["/faq?try=a%00b", "/templates?preview=%00"] {
        let status = http
            .get(format!("{}{path}", shop.url))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 400, "{path}");
    }
}
