//! `make bench`, the console's part: how long each owner page takes to render for a shop with
//! 1,000 FAQ entries and 10,000 conversations (30,000 messages), over HTTP from the running
//! console, p50 and p99 of 100 requests each, beside the account page (a session check and a
//! page with no query of its own) timed in the same run.
use alphadome_e2e::Cluster;
use std::time::{Duration, Instant};

const NUMBER: &str = "106540352242922";
const PASSWORD: &str = "bench-console-password";
const REQUESTS: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    let cluster = Cluster::start(&["log_min_messages=warning"]);
    let mut db = cluster.create_database("bench");
    cluster.seed_kassangas("bench", &[("whatsapp_phone_number_id", NUMBER)]);
    eprintln!("console bench: 1,000 FAQ entries, 10,000 conversations, 30,000 messages");
    db.batch_execute(
        "CREATE ROLE console_login LOGIN NOINHERIT;
         GRANT alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin TO console_login;
         WITH t AS (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')
         INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, category, phrasings)
         SELECT t.id, 'faq', 'Do you stock item number ' || n || '?', 'Yes, item ' || n || ' is in stock at KES ' || n * 10 || '.',
                'Products', ARRAY['item ' || n, 'mna item ' || n]
           FROM t, generate_series(1, 989) n;
         WITH t AS (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')
         INSERT INTO alphadome.conversations (bot_tenant_id, customer_key, wa_id, customer_name, last_inbound_at)
         SELECT t.id, (254700000000 + n)::text, (254700000000 + n)::text, 'Customer ' || n, now() - n * interval '1 minute'
           FROM t, generate_series(1, 10000) n;
         INSERT INTO alphadome.messages (bot_tenant_id, conversation_id, direction, wamid, message_type, body, decision, status, created_at)
         SELECT c.bot_tenant_id, c.id, d.direction, 'wamid.bench.' || c.id || '.' || d.k, 'text', d.body, d.decision, d.status,
                c.last_inbound_at + d.k * interval '1 second'
           FROM alphadome.conversations c,
                LATERAL (VALUES (0, 'inbound', 'What are your opening hours?', 'faq', 'received'),
                                (1, 'outbound', 'We are open Monday-Saturday 9 AM - 6 PM.', NULL, 'read'),
                                (2, 'inbound', 'Do you stock item number 7?', 'faq', 'received')) d(k, direction, body, decision, status);
         ANALYZE;",
    )
    .unwrap();
    db.execute(
        "SELECT alphadome.create_owner(alphadome.tenant_for_slug('kassangas'), 'gideon@bench.test', $1)",
        &[&PASSWORD],
    )
    .unwrap();
    let conversation: i64 = db
        .query_one("SELECT max(id) FROM alphadome.conversations", &[])
        .unwrap()
        .get(0);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = std::env::current_exe()
        .unwrap()
        .with_file_name("alphadome-console");
    let mut console = std::process::Command::new(binary)
        .env("DATABASE_URL", cluster.url("console_login", "bench"))
        .env("ALPHADOME_CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stderr(std::fs::File::create(cluster.dir.join("console.log")).unwrap())
        .spawn()
        .expect("alphadome-console (scripts/bench.sh builds it)");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/login"))
        .send()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "the console did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let login = http
        .post(format!("{base}/login"))
        .form(&[("email", "gideon@bench.test"), ("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(login.status().as_u16(), 303, "the owner logs in");

    let thread = format!("/conversations/{conversation}");
    let pages = [
        ("/account", "account (baseline: session, no query)"),
        ("/", "overview"),
        ("/settings", "settings"),
        ("/templates", "templates"),
        ("/faq", "FAQ, first 100 of 1,000"),
        ("/faq?page=9", "FAQ, last page"),
        ("/faq?try=mna+item+500", "FAQ, try a question"),
        ("/conversations", "conversations, first 50 of 10,000"),
        ("/conversations?page=199", "conversations, last page"),
        (thread.as_str(), "one conversation"),
        ("/alerts", "alerts"),
        ("/usage", "usage, 30 days"),
        ("/replay", "replay, 7 days (200 messages)"),
    ];
    let mut results = Vec::new();
    for (path, what) in pages {
        let mut took = Vec::with_capacity(REQUESTS);
        for i in 0..REQUESTS + 5 {
            let started = Instant::now();
            let response = http.get(format!("{base}{path}")).send().unwrap();
            assert_eq!(response.status().as_u16(), 200, "{path}");
            let _ = response.bytes().unwrap();
            if i >= 5 {
                took.push(started.elapsed());
            }
        }
        took.sort();
        results.push((
            what.to_string(),
            percentile(&took, 0.5),
            percentile(&took, 0.99),
        ));
    }
    let _ = console.kill();
    let _ = console.wait();
    let baseline = results[0].1;
    println!();
    println!("Console page render over HTTP (1,000 FAQ entries, 10,000 conversations; {REQUESTS} requests each, one at a time)");
    println!(
        "{:<44} {:>9} {:>9} {:>14}",
        "page", "p50 ms", "p99 ms", "p50 vs account"
    );
    for (what, p50, p99) in &results {
        println!("{what:<44} {p50:>9.1} {p99:>9.1} {:>13.1}x", p50 / baseline);
    }
}
