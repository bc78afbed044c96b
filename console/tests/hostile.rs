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

/// What the console answers to `request` (sent whole, as raw bytes): the head of its first
/// answer (lower case), and whether it then closes the connection (within 3 s: an idle kept-alive
/// connection stays open for the header timeout, 10 s).
fn answer_and_close(addr: &str, request: &[u8]) -> (String, bool) {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // The client may stop writing when the server has answered and closed.
    let _ = stream.write_all(request);
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    let closed = loop {
        if Instant::now() > deadline {
            break false;
        }
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    let text = String::from_utf8_lossy(&received).to_lowercase();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    (head, closed)
}

/// A client that asks before it sends a body (`Expect: 100-continue`) with a length over the
/// limit is told 413 at once, not invited to send it; and every refusal after which the console
/// closes a kept-alive connection says so (`Connection: close`), while one after which it keeps
/// the connection does not.
#[test]
fn an_announced_oversized_body_gets_413_not_100_continue_and_closing_refusals_say_so() {
    let shop = Shop::start_with(&[("ALPHADOME_BODY_TIMEOUT", "1")]);
    let addr = shop.addr();
    let post = |headers: &str| {
        format!("POST /login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\n{headers}\r\n")
    };
    let over = BODY_LIMIT + 1;
    for path in [
        "/login",
        "/account",
        "/faq",
        "/operator/tenants/new",
        "/nowhere",
    ] {
        let (head, closed) = answer_and_close(
            &addr,
            format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nexpect: 100-continue\r\ncontent-length: {over}\r\n\r\n").as_bytes(),
        );
        assert!(head.starts_with("http/1.1 413"), "{path}: {head}");
        assert!(head.contains("\r\nconnection: close"), "{path}: {head}");
        assert!(closed, "{path}");
    }

    let form = format!("email={OWNER}&password=not-the-password");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a declared length over the limit",
            post(&format!("content-length: {over}\r\n")).into_bytes(),
        ),
        (
            "a chunked body over the limit",
            [
                post("transfer-encoding: chunked\r\n").into_bytes(),
                format!("{over:x}\r\n").into_bytes(),
                vec![b'a'; over],
            ]
            .concat(),
        ),
        (
            "a broken chunk",
            [
                post("transfer-encoding: chunked\r\n").into_bytes(),
                b"zz\r\nabc\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "a body that stops half-way (408)",
            [
                post("content-length: 100\r\n").into_bytes(),
                b"email=".to_vec(),
            ]
            .concat(),
        ),
        (
            "a form from another site (403), its body read",
            [
                post(&format!(
                    "origin: https://evil.example\r\ncontent-length: {}\r\n",
                    form.len()
                ))
                .into_bytes(),
                form.clone().into_bytes(),
            ]
            .concat(),
        ),
        (
            "a wrong password (401), its body read",
            [
                post(&format!("content-length: {}\r\n", form.len())).into_bytes(),
                form.clone().into_bytes(),
            ]
            .concat(),
        ),
        (
            "a header line that is not one",
            [post("content-length: 0\r\nnot a header\r\n").into_bytes()].concat(),
        ),
        (
            "an unknown path with a body",
            [
                format!("POST /nowhere HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 5\r\n\r\n")
                    .into_bytes(),
                b"hello".to_vec(),
            ]
            .concat(),
        ),
    ];
    for (case, request) in cases {
        let (head, closed) = answer_and_close(&addr, &request);
        assert!(head.starts_with("http/1.1 4"), "{case}: {head}");
        let says_close = head.contains("\r\nconnection: close");
        assert_eq!(
            says_close, closed,
            "{case}: closed {closed}, but the answer said: {head}"
        );
    }
}
