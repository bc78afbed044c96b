//! A shop for the console's tests: a throwaway cluster with the Kassangas seed and a second
//! tenant, console logins for both owners and an operator, mock Meta and LLM, the relay, and the
//! console between a browser and the database.
#![allow(dead_code)]
use alphadome_e2e::kassangas::{seed, SEED_NUMBER};
use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::{Client, Cluster};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const OWNER: &str = "gideon@kassangas.test";
pub const OTHER_OWNER: &str = "owner@other-shop.test";
pub const OPERATOR: &str = "ops@alphadome.test";
pub const PASSWORD: &str = "console-test-password-1";
pub const APP_SECRET: &str = "whsec-test-console-shared-app";
pub const OTHER_NUMBER: &str = "1122334455667";

pub struct Shop {
    pub cluster: Cluster,
    pub meta: Mock,
    pub llm: Mock,
    pub relay: Relay,
    console: Child,
    pub url: String,
    pub log: PathBuf,
    pub kassangas: String,
    pub other: String,
}

/// A binary built beside the console's (cargo test -p alphadome-relay -p alphadome-console).
fn sibling(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_alphadome-console")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is not built: run the console's tests with -p alphadome-relay too (make test does)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the console on a free port and waits until it serves /login. A port free when chosen
/// can be bound by another test's process first, and that process would then answer for it:
/// the console's own "serving" log line is what says the port is its own; on "Address already
/// in use" it is started again on another port.
fn start_console(database_url: &str, console_env: &[(&str, &str)], log: &Path) -> (Child, String) {
    for _attempt in 0..5 {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut console = Command::new(env!("CARGO_BIN_EXE_alphadome-console"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("DATABASE_URL", database_url)
            .env("ALPHADOME_CONSOLE_LISTEN", format!("127.0.0.1:{port}"))
            // Plain http, as make run serves it; a test may ask for the default (false).
            .env("ALPHADOME_CONSOLE_INSECURE_COOKIES", "true")
            // Links in its emails (password resets) name it; a test may give another.
            .env("ALPHADOME_CONSOLE_PUBLIC_URL", &url)
            .envs(console_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start alphadome-console");
        let deadline = Instant::now() + Duration::from_secs(20);
        let serving = loop {
            let said = std::fs::read_to_string(log).unwrap_or_default();
            if said.contains("alphadome-console serving") {
                break true;
            }
            if console.try_wait().unwrap().is_some() {
                assert!(
                    said.contains("Address already in use"),
                    "the console exited; log: {}",
                    log.display()
                );
                break false;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not start serving; log: {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if !serving {
            continue;
        }
        while reqwest::blocking::get(format!("{url}/login"))
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                Instant::now() < deadline,
                "the console did not answer /login; log: {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (console, url);
    }
    panic!(
        "the console found no free port in five tries; log: {}",
        log.display()
    );
}

impl Shop {
    pub fn start() -> Shop {
        Shop::start_with(&[])
    }

    /// A shop whose console has these settings besides its database and address.
    pub fn start_with(console_env: &[(&str, &str)]) -> Shop {
        let cluster = Cluster::start(&[]);
        let mut db = cluster.create_database("shop");
        seed(&cluster, "shop");
        let other: String = db
            .query_one(
                "SELECT alphadome.create_tenant('other-shop', 'Other Shop', '0733000001', $1, 'EAAtest-console-other-token')::text",
                &[&OTHER_NUMBER],
            )
            .unwrap()
            .get(0);
        let kassangas = alphadome_e2e::kassangas::tenant_id(&mut db);
        db.batch_execute(
            "CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
             CREATE ROLE console_login LOGIN NOINHERIT;
             GRANT alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin TO console_login;
             UPDATE alphadome.bot_control_settings SET business_hours = NULL;",
        )
        .unwrap();
        for (tenant, email) in [(&kassangas, OWNER), (&other, OTHER_OWNER)] {
            db.execute(
                "SELECT alphadome.create_owner($1::text::uuid, $2, $3)",
                &[tenant, &email, &PASSWORD],
            )
            .unwrap();
        }
        db.execute(
            "SELECT alphadome.create_operator($1, $2)",
            &[&OPERATOR, &PASSWORD],
        )
        .unwrap();
        let meta = Mock::meta();
        let llm = Mock::llm();
        let relay = Relay::start(
            &sibling("alphadome-relay"),
            &[
                ("DATABASE_URL", cluster.url("relay_login", "shop")),
                ("META_GRAPH_URL", meta.base.clone()),
                ("META_APP_SECRET", APP_SECRET.into()),
                ("LLM_BASE_URL", llm.base.clone()),
                ("ALPHADOME_POLL_MS", "200".into()),
            ],
            &cluster.dir.join("relay.log"),
        );
        let log = cluster.dir.join("console.log");
        let (console, url) =
            start_console(&cluster.url("console_login", "shop"), console_env, &log);
        Shop {
            cluster,
            meta,
            llm,
            relay,
            console,
            url,
            log,
            kassangas,
            other,
        }
    }

    pub fn db(&self) -> Client {
        self.cluster.connect("shop")
    }

    /// A customer's text message, signed and posted to the relay as Meta would.
    pub fn customer_asks(&self, from: &str, text: &str, wamid: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": SEED_NUMBER, "phone_number_id": SEED_NUMBER},
                "contacts": [{"profile": {"name": "Wanjiku"}, "wa_id": from}],
                "messages": [{"from": from, "id": wamid, "timestamp": now, "type": "text", "text": {"body": text}}]
            }}]}]
        })
        .to_string();
        let signature =
            alphadome_relay::http::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
        let (status, _) = self
            .relay
            .post("/webhook", body.as_bytes(), Some(&signature));
        assert_eq!(status, 200);
    }

    /// Waits for Meta to be asked to send a text with `body`.
    pub fn wait_for_reply(&self, body: &str) {
        self.meta
            .wait_until(Duration::from_secs(30), "the reply", |r| {
                r.iter().any(|x| x.body["text"]["body"] == body)
            });
    }

    /// The console's process id.
    pub fn pid(&self) -> u32 {
        self.console.id()
    }

    /// The address the console listens on.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn console_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.console.kill();
        let _ = self.console.wait();
    }
}

/// A browser-like HTTP client: cookies kept, redirects not followed (the tests look at them).
pub struct Visitor {
    pub http: reqwest::blocking::Client,
    pub base: String,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Visitor {
    pub fn new(shop: &Shop) -> Visitor {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::blocking::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Visitor {
            http,
            base: shop.url.clone(),
            jar,
        }
    }

    /// The Cookie header this visitor sends (its session).
    pub fn cookie(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// Logs in; returns the status (303 on success).
    pub fn login(&self, email: &str, password: &str) -> u16 {
        self.http
            .post(format!("{}/login", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// The CSRF token the console put in a page's forms.
    pub fn csrf(&self) -> String {
        let (_, page) = self.get("/account");
        let at = page
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field")
            + 19;
        page[at..at + 64].to_string()
    }

    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
}

/// The version a page's first form carries (its hidden field: a 32-digit digest), as a save
/// from that page sends it back.
pub fn form_version(page: &str) -> String {
    const FIELD: &str = "name=\"version\" value=\"";
    let at = page.find(FIELD).expect("a form with its version") + FIELD.len();
    page[at..at + 32].to_string()
}

pub fn value(v: &Value) -> String {
    v.to_string()
}
