//! The extension in a real cluster: the Kassangas seed and its verify queries, several
//! databases, DROP and CREATE again, and no secret in pg_dump output or the server log.
use alphadome_e2e::kassangas::{
    ingest_question, seed, SEED_AI_KEY, SEED_EMAIL, SEED_NUMBER, SEED_TOKEN,
};
use alphadome_e2e::{repo_root, rows_naming, sqlstate, Cluster};

fn verify(cluster: &Cluster, database: &str) -> Vec<String> {
    let verify = repo_root().join("sql/verify/kassangas.sql");
    let out = cluster.psql(&[
        "-d",
        database,
        "-A",
        "-t",
        "-F",
        "|",
        "-f",
        verify.to_str().unwrap(),
    ]);
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn kassangas_seed_passes_the_plans_verify_queries_and_is_idempotent() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    for run in 1..=2 {
        seed(&cluster, "shop");
        let lines = verify(&cluster, "shop");
        assert_eq!(lines.len(), 5, "run {run}: {lines:?}");
        let tenant: Vec<&str> = lines[0].split('|').collect();
        assert_eq!(
            &tenant[1..],
            [
                "kassangas",
                "Kassangas Music Shop",
                "254702245555",
                "t",
                "ok"
            ],
            "run {run}"
        );
        assert_eq!(lines[1], "3", "run {run}: template count");
        assert_eq!(lines[2].split('|').next(), Some("canned_reply"));
        assert_eq!(lines[3].split('|').next(), Some("faq"));
        assert_eq!(
            lines[4], "t|200|t|f|254702245555",
            "run {run}: control settings"
        );
    }
    let mut client = cluster.connect("shop");
    let row = client
        .query_one(
            "SELECT contact_name, client_email, owner_user_id::text, brand_id::text, whatsapp_phone_number_id,
                    alphadome.tenant_credential(id, 'whatsapp_access_token', 'e2e seed check'),
                    alphadome.tenant_credential(id, 'ai_api_key', 'e2e seed check')
               FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Gideon");
    assert_eq!(row.get::<_, String>(1), SEED_EMAIL);
    assert_eq!(
        row.get::<_, String>(2),
        "823c3bcd-b66f-4010-9922-4a3b411226cc"
    );
    assert_eq!(
        row.get::<_, String>(3),
        "1af71403-b4c3-4eac-9aab-48ee2576a9bb"
    );
    assert_eq!(row.get::<_, String>(4), SEED_NUMBER);
    assert!(
        row.get::<_, String>(5) == SEED_TOKEN && row.get::<_, String>(6) == SEED_AI_KEY,
        "seed credentials do not decrypt"
    );
    let hours: String = client
        .query_one(
            "SELECT question FROM alphadome.match_faq(alphadome.tenant_for_client_phone('0702245555'), 'what time do you open on saturday?')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(hours, "What are your opening hours?");
    // The hours answer states the settings' hours, in the customer's language.
    let answers: (String, String) = {
        let row = client
            .query_one(
                "SELECT alphadome.render_placeholders(d.bot_tenant_id, d.answer, 'en'),
                        alphadome.render_placeholders(d.bot_tenant_id, d.answer, 'sw')
                   FROM alphadome.bot_training_data d WHERE d.question = 'What are your opening hours?'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        answers.0,
        "We are open Monday to Saturday 9 AM - 6 PM; closed on Sunday and on holidays."
    );
    assert_eq!(
        answers.1,
        "We are open Jumatatu hadi Jumamosi, saa 3 asubuhi hadi saa 12 jioni; tumefungwa Jumapili na sikukuu."
    );
}

#[test]
fn seed_without_variables_uses_placeholders() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    cluster.seed_kassangas("shop", &[]);
    let mut client = cluster.connect("shop");
    let token: String = client
        .query_one("SELECT alphadome.tenant_credential(id, 'whatsapp_access_token', 'e2e') FROM alphadome.bot_tenants", &[])
        .unwrap()
        .get(0);
    assert!(token.starts_with("placeholder-"), "placeholder expected");
}

#[test]
fn extension_installs_in_two_databases_and_survives_drop_and_create() {
    let cluster = Cluster::start(&[]);
    let mut first = cluster.create_database("first");
    // Roles already exist: the second CREATE EXTENSION must tolerate them.
    let mut second = cluster.create_database("second");
    for client in [&mut first, &mut second] {
        let roles: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_roles WHERE rolname IN ('alphadome_admin', 'alphadome_relay', 'alphadome_tenant') AND NOT rolcanlogin",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(roles, 3);
    }
    second
        .execute(
            "SELECT alphadome.create_tenant('drop-me', 'Drop Me', '0711000003', '100000000000031', $1)",
            &[&"EAAtest-drop-token-0a1b"],
        )
        .unwrap();
    second
        .batch_execute("DROP EXTENSION pg_alphadome CASCADE")
        .unwrap();
    // What DROP EXTENSION leaves is what docs/operations.md ("Removing it") tells to drop.
    let left: Vec<String> = second
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'alphadome\\_%' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let operations = std::fs::read_to_string(repo_root().join("docs/operations.md")).unwrap();
    let drop_line = operations
        .lines()
        .find(|l| l.starts_with("DROP ROLE "))
        .expect("operations.md has a DROP ROLE line");
    let mut documented: Vec<String> = drop_line["DROP ROLE ".len()..]
        .trim_end_matches(';')
        .split(", ")
        .map(str::to_string)
        .collect();
    documented.sort();
    assert_eq!(
        left, documented,
        "roles DROP EXTENSION leaves vs. the docs' DROP ROLE"
    );
    second
        .batch_execute("CREATE EXTENSION pg_alphadome CASCADE")
        .unwrap();
    let tenants: i64 = second
        .query_one("SELECT count(*) FROM alphadome.bot_tenants", &[])
        .unwrap()
        .get(0);
    assert_eq!(tenants, 0);
    let id: String = second
        .query_one(
            "SELECT alphadome.create_tenant('again', 'Again', '0711000004', '100000000000041', $1)::text",
            &[&"EAAtest-again-token-77aa"],
        )
        .unwrap()
        .get(0);
    let token: String = second
        .query_one(
            "SELECT alphadome.tenant_credential($1::text::uuid, 'whatsapp_access_token', 'e2e')",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(token, "EAAtest-again-token-77aa");
    // The first database is untouched by the second's DROP.
    let row = first
        .query_one(
            "SELECT count(*) FILTER (WHERE relrowsecurity AND relforcerowsecurity),
                    count(*) FILTER (WHERE relname = 'bot_tenants' OR EXISTS (
                        SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'bot_tenant_id'))
               FROM pg_class c WHERE relnamespace = 'alphadome'::regnamespace AND relkind = 'r'",
            &[],
        )
        .unwrap();
    let (forced, tenant_tables): (i64, i64) = (row.get(0), row.get(1));
    assert!(tenant_tables >= 9, "{tenant_tables}");
    assert_eq!(
        forced, tenant_tables,
        "RLS forced on bot_tenants and every table with bot_tenant_id"
    );
}

/// Runs every kind of credential use, including failures, then searches pg_dump output and the
/// server log for the master key and every token used.
#[test]
fn no_secret_reaches_pg_dump_or_the_server_log() {
    let cluster = Cluster::start(&[
        "log_min_messages=info",
        "log_min_error_statement=error",
        "log_connections=on",
    ]);
    cluster.create_database("shop");
    seed(&cluster, "shop");
    let mut client = cluster.connect("shop");
    let tokens = [
        "EAAtest-dump-token-5e6f",
        "sk-test-dump-ai-key-9c0d",
        "whsec-test-dump-app-secret-1234",
    ];
    let id: String = client
        .query_one(
            "SELECT alphadome.create_tenant('dump', 'Dump', '0711000005', '100000000000051', $1, $2, $3, 'vtok-test-dump-verify-token')::text",
            &[&tokens[0], &tokens[1], &tokens[2]],
        )
        .unwrap()
        .get(0);
    for credential in ["whatsapp_access_token", "ai_api_key", "app_secret"] {
        client
            .query_one(
                "SELECT alphadome.tenant_credential($1::text::uuid, $2, 'e2e dump check')",
                &[&id, &credential],
            )
            .unwrap();
    }
    // Failures write to the log: a foreign ciphertext, a forbidden role, a bad credential name.
    client
        .batch_execute(
            "UPDATE alphadome.bot_tenants SET app_secret = ai_api_key WHERE slug = 'dump'",
        )
        .unwrap();
    assert_eq!(
        sqlstate(client.query_one(
            "SELECT alphadome.tenant_credential($1::text::uuid, 'app_secret', 'e2e')",
            &[&id]
        )),
        "XX001"
    );
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE alphadome_tenant").unwrap();
    assert_eq!(
        sqlstate(tx.query_one(
            "SELECT alphadome.tenant_credential($1::text::uuid, 'ai_api_key', 'e2e')",
            &[&id]
        )),
        "42501"
    );
    drop(tx);
    assert_eq!(
        sqlstate(client.query_one(
            "SELECT alphadome.set_credentials($1::text::uuid, ai_api_key => '')",
            &[&id]
        )),
        "22023"
    );
    drop(client);

    let dump = cluster.tool("pg_dump", &["-d", "shop"]);
    assert!(
        dump.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        dump.contains("Kassangas Music Shop"),
        "the dump holds tenant rows (pg_extension_config_dump)"
    );
    assert!(
        dump.contains("SELECT pg_catalog.setval('alphadome._faq_version'"),
        "the dump keeps the FAQ version sequence, so a restore never hands out an old version again"
    );
    let log = cluster.server_log();
    assert!(
        log.contains("XX001") || log.contains("does not decrypt"),
        "the failures were logged"
    );
    let mut secrets = vec![
        cluster.master_key_hex.as_str(),
        SEED_TOKEN,
        SEED_AI_KEY,
        "vtok-test-dump-verify-token",
    ];
    secrets.extend(tokens);
    for secret in secrets {
        assert!(!dump.contains(secret), "a secret is in the pg_dump output");
        assert!(!log.contains(secret), "a secret is in the server log");
    }
}

/// The worker's wake-up: the first webhook with a job sends NOTIFY alphadome_outbox, and a burst
/// sends at most one per 10 ms (a NOTIFY in every transaction would serialize commits). 102
/// messages stay under the seed's limit of 200 replies an hour, so each one queues a job.
#[test]
fn ingest_wakes_the_worker_at_most_once_per_ten_milliseconds() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    seed(&cluster, "shop");
    let mut listener = cluster.connect("shop");
    listener.batch_execute("LISTEN alphadome_outbox").unwrap();
    let mut client = cluster.connect("shop");
    let mut ingest =
        |n: usize| ingest_question(&mut client, SEED_NUMBER, &format!("wamid.wake.{n}"));
    let heard = |listener: &mut postgres::Client| {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = listener.notifications();
        let mut it = notes.timeout_iter(std::time::Duration::from_millis(300));
        let mut n = 0;
        while let Ok(Some(_)) = it.next() {
            n += 1;
        }
        n
    };
    ingest(0);
    assert_eq!(heard(&mut listener), 1, "the first job wakes the worker");
    let started = std::time::Instant::now();
    for n in 1..=100 {
        ingest(n);
    }
    let elapsed_ms = started.elapsed().as_millis() as usize;
    let burst = heard(&mut listener);
    assert!(burst >= 1, "a burst wakes the worker");
    assert!(
        burst <= elapsed_ms / 10 + 1,
        "{burst} notifications in {elapsed_ms} ms: more than one per 10 ms"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    ingest(101);
    assert_eq!(
        heard(&mut listener),
        1,
        "after a quiet moment the next job wakes it again"
    );
}

/// Deleting a tenant (its message-path rows have no foreign key, schema.sql): refused while it
/// is active; once its deactivation is committed, the delete waits for transactions that began
/// before it (they may have seen the tenant active and still write for it), then takes the
/// tenant's conversations, messages, jobs and reply counters with it, and nobody else's.
#[test]
fn a_deleted_tenant_takes_its_rows_after_older_transactions_end() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    seed(&cluster, "shop");
    let mut admin = cluster.connect("shop");
    let other: String = admin
        .query_one(
            "SELECT alphadome.create_tenant('other', 'Other Shop', '0711000077', '100000000000077', 'EAAtest-e2e-other-token-1c4e')::text",
            &[],
        )
        .unwrap()
        .get(0);
    ingest_question(&mut admin, SEED_NUMBER, "wamid.del.1");
    ingest_question(&mut admin, "100000000000077", "wamid.del.2");
    let rows = |client: &mut postgres::Client| -> Vec<i64> {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM alphadome.conversations), (SELECT count(*) FROM alphadome.messages),
                        (SELECT count(*) FROM alphadome.outbox), (SELECT count(*) FROM alphadome.reply_counters)",
                &[],
            )
            .unwrap();
        (0..4).map(|i| row.get(i)).collect()
    };
    assert_eq!(rows(&mut admin), [2, 2, 2, 2]);
    let shop_id: String = admin
        .query_one(
            "SELECT id::text FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0);
    // Its credential audit, a raw webhook routed to it and its usage rolled up.
    admin
        .batch_execute(
            "SELECT alphadome.tenant_credential(id, 'whatsapp_access_token', 'e2e') FROM alphadome.bot_tenants;
             INSERT INTO alphadome.webhook_events (route_tenant_id, payload)
             SELECT id, '{\"routed\": true}' FROM alphadome.bot_tenants;
             SELECT alphadome.rollup_usage(now());",
        )
        .unwrap();
    for needle in [shop_id.as_str(), SEED_NUMBER] {
        assert!(
            !rows_naming(&mut admin, needle).is_empty(),
            "{needle} is in the fixture"
        );
    }
    let shop = "(SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')";
    let delete = format!("DELETE FROM alphadome.bot_tenants WHERE id = {shop}");
    assert_eq!(sqlstate(admin.execute(&delete, &[])), "55000", "active");

    admin
        .execute(
            &format!("UPDATE alphadome.bot_tenants SET is_active = false WHERE id = {shop}"),
            &[],
        )
        .unwrap();
    admin.batch_execute("SET track_activities = off").unwrap();
    assert_eq!(
        sqlstate(admin.execute(&delete, &[])),
        "55000",
        "without track_activities it cannot see older transactions"
    );
    admin.batch_execute("RESET track_activities").unwrap();
    let mut older = cluster.connect("shop");
    older.batch_execute("BEGIN; SELECT 1").unwrap();
    let deleting = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        admin.execute(&delete, &[]).unwrap();
        (admin, started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !deleting.is_finished(),
        "the delete waits for the older transaction"
    );
    older.batch_execute("COMMIT").unwrap();
    let (mut admin, waited) = deleting.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "{waited:?}"
    );
    assert_eq!(
        rows(&mut admin),
        [1, 1, 1, 1],
        "the other tenant's rows stay"
    );
    let others: i64 = admin
        .query_one(
            "SELECT count(*) FROM alphadome.conversations WHERE bot_tenant_id = $1::text::uuid",
            &[&other],
        )
        .unwrap()
        .get(0);
    assert_eq!(others, 1);
    // Nothing of it is left anywhere: no row names its id or its WhatsApp number (the raw
    // webhooks of the shared route, addressed to it, went too).
    for needle in [shop_id.as_str(), SEED_NUMBER] {
        assert_eq!(
            rows_naming(&mut admin, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert!(
        !rows_naming(&mut admin, &other).is_empty(),
        "the other tenant's stay"
    );
}

/// Each session's copy of the tenants (src/ingest/tenant_cache.rs) sees a change committed by
/// another session from its next transaction on, and forgets its own rolled-back change.
#[test]
fn a_change_to_a_tenant_reaches_other_sessions_and_a_rollback_is_undone() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    seed(&cluster, "shop");
    let mut relay = cluster.connect("shop");
    let mut admin = cluster.connect("shop");
    let ingest = |client: &mut postgres::Client, wamid: &str| -> String {
        ingest_question(client, SEED_NUMBER, wamid);
        client
            .query_one(
                "SELECT decision FROM alphadome.messages WHERE wamid = $1",
                &[&wamid],
            )
            .unwrap()
            .get(0)
    };
    let switch = "UPDATE alphadome.bot_control_settings SET is_bot_enabled = $1";
    assert_eq!(ingest(&mut relay, "wamid.x.1"), "faq");
    admin.execute(switch, &[&false]).unwrap();
    assert_eq!(
        ingest(&mut relay, "wamid.x.2"),
        "bot_disabled",
        "another session's change"
    );
    relay.batch_execute("BEGIN").unwrap();
    relay.execute(switch, &[&true]).unwrap();
    assert_eq!(
        ingest(&mut relay, "wamid.x.3"),
        "faq",
        "its own change, at once"
    );
    relay.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        ingest(&mut relay, "wamid.x.4"),
        "bot_disabled",
        "rolled back"
    );
}
