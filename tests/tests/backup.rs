//! Backup and restore as a DBA does them: pg_dump of a working database restored into a new
//! one goes on exactly where the dump left off, with or without the master key file.
use alphadome_e2e::kassangas::{
    ingest, ingest_question, seed, text_webhook, SEED_NUMBER, SEED_TOKEN,
};
use alphadome_e2e::{sqlstate, Cluster, Options};

/// A working database: the seed, two customers' questions (one job claimed and sent), a new
/// FAQ entry, a second tenant.
fn working_database(cluster: &Cluster, database: &str) {
    cluster.create_database(database);
    seed(cluster, database);
    let mut client = cluster.connect(database);
    ingest_question(&mut client, SEED_NUMBER, "wamid.backup.1");
    let webhook = text_webhook(
        SEED_NUMBER,
        "254711000200",
        "wamid.backup.2",
        "Do you deliver?",
    );
    ingest(&mut client, &webhook).unwrap();
    let job: serde_json::Value = client
        .query_one("SELECT alphadome.claim_jobs('backup-test', 1, 60)", &[])
        .unwrap()
        .get(0);
    client
        .execute(
            "SELECT alphadome.complete_job($1, '{\"wamid\": \"wamid.out.1\", \"status\": \"sent\"}'::jsonb)",
            &[&job["id"].as_i64().unwrap()],
        )
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             SELECT id, 'faq', 'Do you sell drums?', 'Yes, acoustic and electronic drum kits.'
               FROM alphadome.bot_tenants WHERE slug = 'kassangas';
             SELECT alphadome.create_tenant('mama-jikoni', 'Mama Jikoni', '0711000300', '100000000000300',
                                            'EAAtest-backup-second-token-4b1f');",
        )
        .unwrap();
}

/// Each sequence of the extension with its position, by name.
fn sequences(client: &mut postgres::Client) -> Vec<(String, Option<i64>)> {
    client
        .query(
            "SELECT sequencename::text, last_value FROM pg_sequences
              WHERE schemaname = 'alphadome' AND sequencename <> '_wakeup_clock' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// What a restored database must do: take the next webhook from a new customer (a new
/// conversation, message, job and event id), a new FAQ entry, a new tenant; decrypt a
/// credential; hand out a job with its token.
fn goes_on(client: &mut postgres::Client) {
    let webhook = text_webhook(
        SEED_NUMBER,
        "254711000400",
        "wamid.restored.1",
        "What are your opening hours?",
    );
    let counts = ingest(client, &webhook).unwrap();
    assert_eq!(
        (counts["accepted"].as_i64(), counts["jobs"].as_i64()),
        (Some(1), Some(1)),
        "{counts}"
    );
    client
        .batch_execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             SELECT id, 'faq', 'Do you sell violins?', 'Yes, from KES 15,000.'
               FROM alphadome.bot_tenants WHERE slug = 'kassangas';
             SELECT alphadome.create_tenant('third-shop', 'Third Shop', '0711000500', '100000000000500',
                                            'EAAtest-backup-third-token-9e2a');",
        )
        .unwrap();
    let token: String = client
        .query_one(
            "SELECT alphadome.tenant_credential(id, 'whatsapp_access_token', 'restore test')
               FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(token, SEED_TOKEN);
    let jobs: Vec<serde_json::Value> = client
        .query("SELECT alphadome.claim_jobs('restored', 10, 60)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        jobs.len(),
        2,
        "the job left queued by the dump and the new one: {jobs:?}"
    );
    assert!(jobs
        .iter()
        .all(|j| j["whatsapp"]["access_token"] == SEED_TOKEN));
}

#[test]
fn a_custom_format_dump_restores_and_goes_on_where_it_left_off() {
    let cluster = Cluster::start(&[]);
    working_database(&cluster, "shop");
    let before = sequences(&mut cluster.connect("shop"));
    let file = cluster.dir.join("shop.dump");
    let dump = cluster.tool(
        "pg_dump",
        &["-d", "shop", "-Fc", "-f", file.to_str().unwrap()],
    );
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE restored")
        .unwrap();
    let restore = cluster.tool("pg_restore", &["-d", "restored", file.to_str().unwrap()]);
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let mut client = cluster.connect("restored");
    assert_eq!(
        sequences(&mut client),
        before,
        "every sequence where the dump left it"
    );
    goes_on(&mut client);
}

#[test]
fn a_plain_sql_dump_restores_through_psql() {
    let cluster = Cluster::start(&[]);
    working_database(&cluster, "shop");
    let file = cluster.dir.join("shop.sql");
    let dump = cluster.tool("pg_dump", &["-d", "shop", "-f", file.to_str().unwrap()]);
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE restored")
        .unwrap();
    cluster.psql(&["-q", "-d", "restored", "-f", file.to_str().unwrap()]);
    goes_on(&mut cluster.connect("restored"));
}

/// A restore on a server that was not given the key file: decryption fails with a SQLSTATE
/// that says so, and everything that needs no credential works.
#[test]
fn restored_without_the_key_file_only_decryption_fails() {
    let source = Cluster::start(&[]);
    working_database(&source, "shop");
    let file = source.dir.join("shop.dump");
    let dump = source.tool(
        "pg_dump",
        &["-d", "shop", "-Fc", "-f", file.to_str().unwrap()],
    );
    assert!(dump.status.success());
    let target = Cluster::start_with(Options {
        without_master_key: true,
        ..Options::default()
    });
    target
        .connect("postgres")
        .batch_execute("CREATE DATABASE restored")
        .unwrap();
    let restore = target.tool("pg_restore", &["-d", "restored", file.to_str().unwrap()]);
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let mut client = target.connect("restored");
    let decrypt = client.query_one(
        "SELECT alphadome.tenant_credential(id, 'whatsapp_access_token', 'restore test')
           FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
        &[],
    );
    let error = decrypt
        .as_ref()
        .err()
        .and_then(|e| e.as_db_error())
        .expect("an error");
    assert_eq!(error.code().code(), "55000");
    assert!(
        error.message().contains("alphadome.master_key_file"),
        "{}",
        error.message()
    );
    let webhook = text_webhook(
        SEED_NUMBER,
        "254711000400",
        "wamid.restored.1",
        "What are your opening hours?",
    );
    let counts = ingest(&mut client, &webhook).unwrap();
    assert_eq!(counts["accepted"].as_i64(), Some(1));
    client
        .batch_execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             SELECT id, 'faq', 'Do you sell violins?', 'Yes.' FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
        )
        .unwrap();
    // A job's token cannot be opened: not the job's fault. Nothing is dead-lettered; the
    // tenant's sends pause with the reason, and wait for a key that works.
    let claimed = client
        .query("SELECT alphadome.claim_jobs('restored', 10, 60)", &[])
        .unwrap();
    assert!(
        claimed
            .iter()
            .all(|r| r.get::<_, serde_json::Value>(0)["whatsapp"].is_null()),
        "no job leaves with a token"
    );
    let dead: i64 = client
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE status = 'dead'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(dead, 0, "nothing dead-lettered");
    let paused: String = client
        .query_one("SELECT sqlstate FROM alphadome.tenant_pauses", &[])
        .unwrap()
        .get(0);
    assert_eq!(paused, "55000");
    assert_eq!(
        sqlstate(client.query_one(
            "SELECT alphadome.create_tenant('fourth', 'Fourth', '0711000600', '100000000000600', 'EAAtest-x')",
            &[]
        )),
        "55000",
        "a new tenant's token cannot be encrypted either"
    );
}

/// Every table and sequence of the extension is dumped with its data, but the wake-up clock
/// (a time of day, meaningless in another server).
#[test]
fn every_table_and_sequence_is_dumped_with_its_data() {
    let cluster = Cluster::start(&[]);
    let mut client = cluster.create_database("shop");
    let missing: Vec<String> = client
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c
              WHERE c.relnamespace = 'alphadome'::regnamespace AND c.relkind IN ('r', 'S')
                AND c.relname <> '_wakeup_clock'
                AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'pg_alphadome')::oid[])
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(missing, Vec::<String>::new());
}

/// An error raised by PostgreSQL inside the extension's Rust code (here a unique violation in
/// ingest's statements) reaches the client as that error, its SQLSTATE and message, with no
/// Rust backtrace in its DETAIL or the server log, even with RUST_BACKTRACE set.
#[test]
fn a_postgres_error_inside_rust_reaches_the_client_as_itself() {
    let cluster = Cluster::start_with(Options {
        env: &[("RUST_BACKTRACE", "1")],
        ..Options::default()
    });
    let mut client = cluster.create_database("shop");
    seed(&cluster, "shop");
    // The next conversation id is taken already: the next new customer collides.
    client
        .batch_execute(
            "INSERT INTO alphadome.conversations (id, bot_tenant_id, customer_key)
             OVERRIDING SYSTEM VALUE
             SELECT nextval('alphadome.conversations_id_seq') + 1, id, 'someone' FROM alphadome.bot_tenants",
        )
        .unwrap();
    let webhook = text_webhook(SEED_NUMBER, "254711000700", "wamid.collide", "hello");
    let error = ingest(&mut client, &webhook).expect_err("the insert collides");
    let error = error.as_db_error().expect("a database error");
    assert_eq!(error.code().code(), "23505");
    assert!(
        error.message().contains("conversations_pkey"),
        "{}",
        error.message()
    );
    assert!(
        error
            .detail()
            .is_none_or(|d| d.starts_with("Key (bot_tenant_id, id)=")),
        "PostgreSQL's own detail, if any: {:?}",
        error.detail()
    );
    for text in [error.detail().unwrap_or_default(), &cluster.server_log()] {
        assert!(
            !text.contains("backtrace") && !text.contains("pgrx"),
            "{text}"
        );
    }
}

/// A dump holds M-Pesa's credentials only as ciphertext (issue 24: no M-Pesa credential in
/// logs, dumps or the server log): neither the plain dump nor the server log has them.
#[test]
fn a_dump_holds_no_mpesa_credential_in_clear() {
    const KEY: &str = "dump-test-consumer-key-7f3a";
    const SECRET: &str = "dump-test-consumer-secret-91c2";
    const PASSKEY: &str = "dump-test-passkey-bfd4e0a1c9";
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    seed(&cluster, "shop");
    cluster
        .connect("shop")
        .execute(
            "SELECT alphadome.set_mpesa_credentials(id, $1, $2, $3, 'sandbox')
               FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[&KEY, &SECRET, &PASSKEY],
        )
        .unwrap();
    let file = cluster.dir.join("shop.sql");
    let dump = cluster.tool("pg_dump", &["-d", "shop", "-f", file.to_str().unwrap()]);
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("mpesa_accounts"), "the dump has the table");
    let log = cluster.server_log();
    for secret in [KEY, SECRET, PASSKEY] {
        assert!(
            !text.contains(secret),
            "an M-Pesa credential is in the dump in clear"
        );
        assert!(
            !log.contains(secret),
            "an M-Pesa credential is in the server log"
        );
    }
}
