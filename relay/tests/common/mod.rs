//! A whole deployment for end-to-end tests: a throwaway cluster with the extension and the
//! Kassangas seed plus a second tenant, mock Meta and mock LLM, and the relay between them.
#![allow(dead_code)]
use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::{Client, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// pywa's captured app secret (already reset by its owner): fixture 30 is signed with it.
pub const APP_SECRET: &str = "1222e786b144d0e85b9f365372d93676";
pub const SHARED_VERIFY_TOKEN: &str = "vtok-test-shared-app";
pub const KASSANGAS_NUMBER: &str = "106540352242922";
pub const KASSANGAS_TOKEN: &str = "EAAtest-kassangas-relay-token";
pub const KASSANGAS_AI_KEY: &str = "sk-test-kassangas-relay-ai";
pub const OTHER_NUMBER: &str = "1122334455667";
pub const OTHER_TOKEN: &str = "EAAtest-other-shop-relay-token";
pub const OTHER_APP_SECRET: &str = "whsec-test-other-shop-app-secret";
pub const OTHER_VERIFY_TOKEN: &str = "vtok-test-other-shop";
/// The seed's hours answer ("We are open {hours}.") with the hours the tests set: none.
pub const OPENING_HOURS_ANSWER: &str = "We are open every day, at any hour.";
/// The same to a customer who asks in Swahili ("Mnafungua saa ngapi?").
pub const OPENING_HOURS_ANSWER_SW: &str = "We are open kila siku, saa zote.";

pub struct Deployment {
    pub cluster: Cluster,
    pub meta: Mock,
    pub llm: Mock,
    pub relay: Relay,
    pub kassangas: String,
    pub other: String,
}

impl Deployment {
    pub fn start(extra_env: &[(&str, &str)]) -> Deployment {
        Deployment::start_with(&[], |_| {}, extra_env)
    }

    /// With extra server settings, and `setup` (given a superuser's session once the tenants
    /// are made) before the relay starts.
    pub fn start_with(
        settings: &[&str],
        setup: impl FnOnce(&mut Client),
        extra_env: &[(&str, &str)],
    ) -> Deployment {
        let cluster = Cluster::start(settings);
        let mut db = cluster.create_database("shop");
        cluster.seed_kassangas(
            "shop",
            &[
                ("whatsapp_phone_number_id", KASSANGAS_NUMBER),
                ("whatsapp_access_token", KASSANGAS_TOKEN),
                ("ai_api_key", KASSANGAS_AI_KEY),
            ],
        );
        let other: String = db
            .query_one(
                "SELECT alphadome.create_tenant('other-shop', 'Other Shop', '0733000001', $1, $2, NULL, $3, $4)::text",
                &[&OTHER_NUMBER, &OTHER_TOKEN, &OTHER_APP_SECRET, &OTHER_VERIFY_TOKEN],
            )
            .unwrap()
            .get(0);
        let kassangas = alphadome_e2e::kassangas::tenant_id(&mut db);
        db.batch_execute("CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;")
            .unwrap();
        // Open at any hour: the seed's business hours would make the tests depend on the clock
        // (tests/alerts.rs tries the hours).
        db.batch_execute("UPDATE alphadome.bot_control_settings SET business_hours = NULL")
            .unwrap();
        setup(&mut db);
        let meta = Mock::meta();
        let llm = Mock::llm();
        let mut env: Vec<(&str, String)> = vec![
            ("DATABASE_URL", cluster.url("relay_login", "shop")),
            ("META_GRAPH_URL", meta.base.clone()),
            ("META_APP_SECRET", APP_SECRET.into()),
            ("META_VERIFY_TOKEN", SHARED_VERIFY_TOKEN.into()),
            ("LLM_BASE_URL", llm.base.clone()),
            ("ALPHADOME_POLL_MS", "200".into()),
            ("ALPHADOME_RETRY_BASE_SECONDS", "1".into()),
            ("ALPHADOME_LLM_TIMEOUT", "5".into()),
            ("ALPHADOME_META_TIMEOUT", "5".into()),
            ("ALPHADOME_LEASE_SECONDS", "10".into()),
        ];
        for (k, v) in extra_env {
            env.retain(|(key, _)| key != k);
            env.push((k, v.to_string()));
        }
        let relay = Relay::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_alphadome-relay")),
            &env,
            &cluster.dir.join("relay.log"),
        );
        Deployment {
            cluster,
            meta,
            llm,
            relay,
            kassangas,
            other,
        }
    }

    pub fn db(&self) -> Client {
        self.cluster.connect("shop")
    }

    pub fn sign(body: &[u8]) -> String {
        alphadome_relay::http::signature::sign(APP_SECRET.as_bytes(), body)
    }

    /// Posts a webhook signed with the shared app's secret.
    pub fn post(&self, body: &[u8]) -> (u16, String) {
        self.relay
            .post("/webhook", body, Some(&Deployment::sign(body)))
    }

    pub fn post_text(&self, number: &str, from: &str, text: &str, wamid: &str) -> (u16, String) {
        self.post(
            text_webhook(number, from, text, wamid)
                .to_string()
                .as_bytes(),
        )
    }

    /// Waits for a SQL condition (a query returning one boolean) to hold.
    pub fn wait_for(&self, what: &str, query: &str, timeout: Duration) {
        let mut db = self.db();
        let deadline = Instant::now() + timeout;
        loop {
            let holds: bool = db.query_one(query, &[]).unwrap().get(0);
            if holds {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The number a `SELECT count(*) ...` returns.
    pub fn count(&self, query: &str) -> i64 {
        self.db().query_one(query, &[]).unwrap().get(0)
    }

    /// Waits until no job is queued or running.
    pub fn wait_until_idle(&self, timeout: Duration) {
        self.wait_for(
            "the queue to drain",
            "SELECT NOT EXISTS (SELECT FROM alphadome.outbox WHERE status IN ('queued', 'running'))",
            timeout,
        );
    }

    /// No token, key, secret or master key in the relay's log or the server's.
    pub fn assert_no_secret_in_logs(&self) {
        let logs = [self.relay.log_text(), self.cluster.server_log()];
        let secrets = [
            KASSANGAS_TOKEN,
            KASSANGAS_AI_KEY,
            OTHER_TOKEN,
            OTHER_APP_SECRET,
            OTHER_VERIFY_TOKEN,
            SHARED_VERIFY_TOKEN,
            APP_SECRET,
            self.cluster.master_key_hex.as_str(),
        ];
        for log in &logs {
            for secret in secrets {
                assert!(!log.contains(secret), "a secret is in a log");
            }
        }
    }
}

/// A Meta-shaped webhook with one inbound text message.
pub fn text_webhook(number: &str, from: &str, text: &str, wamid: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number, "phone_number_id": number},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": "1760000000", "type": "text", "text": {"body": text}}]
        }}]}]
    })
}

/// A text message to Kassangas sent now (Meta's timestamp is what opens the 24-hour window).
pub fn text_now(from: &str, text: &str, wamid: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut webhook = text_webhook(KASSANGAS_NUMBER, from, text, wamid);
    webhook["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = json!(now);
    webhook.to_string().into_bytes()
}

/// Busy shops for the load tests (chaos, ha): tenants `{name}-0`, `{name}-1`, ... on `numbers`,
/// each with one FAQ answer to the opening-hours question, no business hours and no hourly
/// limit; and the relay's login.
pub fn seed_busy_tenants(db: &mut Client, name: &str, phone_prefix: &str, numbers: &[&str]) {
    let (token, key) = (
        format!("EAAtest-{name}-token"),
        format!("sk-test-{name}-key"),
    );
    for (i, number) in numbers.iter().enumerate() {
        let id: String = db
            .query_one(
                "SELECT alphadome.create_tenant($1, $1, $2, $3, $4, $5)::text",
                &[
                    &format!("{name}-{i}"),
                    &format!("{phone_prefix}{i:02}"),
                    number,
                    &token,
                    &key,
                ],
            )
            .unwrap()
            .get(0);
        db.execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             VALUES ($1::text::uuid, 'faq', 'What are your opening hours?', 'Open 8 to 8, every day.')",
            &[&id],
        )
        .unwrap();
    }
    db.batch_execute(
        "CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
         UPDATE alphadome.bot_control_settings SET business_hours = NULL, max_messages_per_hour = 100000;",
    )
    .unwrap();
}

pub const LONG: Duration = Duration::from_secs(30);

/// A Meta-shaped webhook with one inbound message of any type (`message` without from, id and
/// timestamp, which are added).
pub fn message_webhook(number: &str, from: &str, wamid: &str, mut message: Value) -> Value {
    message["from"] = json!(from);
    message["id"] = json!(wamid);
    message["timestamp"] = json!("1760000000");
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number, "phone_number_id": number},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
            "messages": [message]
        }}]}]
    })
}

/// A well-formed X-Hub-Signature-256 that signs nothing anyone sent.
pub const WRONG_SIGNATURE: &str =
    "sha256=0000000000000000000000000000000000000000000000000000000000000000";

/// A POST's line and headers for `path`, declaring `length` bytes (None: chunked), with the
/// extra header lines `extra` (each ending in \r\n).
pub fn post_head(d: &Deployment, path: &str, length: Option<u64>, extra: &str) -> String {
    let length = match length {
        Some(n) => format!("content-length: {n}\r\n"),
        None => "transfer-encoding: chunked\r\n".into(),
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{extra}{length}\r\n",
        d.relay.addr()
    )
}
