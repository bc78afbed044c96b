//! ALTER EXTENSION pg_alphadome UPDATE from each release DBAs have installed (0.1.0 through the
//! frozen 0.1.0→0.2.0 script and the generated one after it; 0.2.0 through the generated one):
//! data kept, credentials still decrypt, the pipeline works, and the schema is exactly a fresh
//! install's.
use alphadome_e2e::kassangas::{
    ingest, ingest_question, seed, text_webhook, SEED_NUMBER, SEED_TOKEN,
};
use alphadome_e2e::Cluster;

/// Every object of the database as `pg_dump --binary-upgrade` writes it: in that mode pg_dump
/// writes the extension's member objects one by one (an ordinary dump says only CREATE
/// EXTENSION). What differs between two databases with the same schema is dropped: object
/// ids, frozen-xid bookkeeping, the stored defaults of columns added by ALTER TABLE, sequence
/// positions (data), the object ids of the extension's configuration tables (compared by
/// name instead), the order of entries in an access list, and the placeholders of dropped
/// columns (pg_dump keeps their slots for pg_upgrade: an update that drops a column leaves
/// one, a fresh install never had it).
fn schema_of(cluster: &Cluster, database: &str) -> String {
    let out = cluster.tool(
        "pg_dump",
        &["-d", database, "--schema-only", "--binary-upgrade"],
    );
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut kept = Vec::new();
    let mut in_xid_update = false;
    let lines: Vec<&str> = text.lines().collect();
    let mut dropped_column_block = 0;
    for (at, &line) in lines.iter().enumerate() {
        // UPDATE pg_catalog.pg_class SET relfrozenxid ... WHERE oid = ...; (three lines)
        if line.starts_with("UPDATE pg_catalog.pg_class") || in_xid_update {
            in_xid_update = !line.ends_with(';');
            continue;
        }
        // A dropped column: its placeholder in CREATE TABLE, and the statement that makes it
        // dropped again (UPDATE pg_catalog.pg_attribute ... '...pg.dropped...' ...;): four
        // lines for one column in PostgreSQL 15; from 17 one statement lists a table's dropped
        // columns together, a line each.
        if line.starts_with("UPDATE pg_catalog.pg_attribute") {
            let statement = lines[at..]
                .iter()
                .position(|l| l.ends_with(';'))
                .map_or(lines.len() - at, |end| end + 1);
            if lines[at..at + statement]
                .iter()
                .any(|l| l.contains("pg.dropped."))
            {
                dropped_column_block = statement;
            }
        }
        if dropped_column_block > 0 {
            dropped_column_block -= 1;
            continue;
        }
        if line.contains("\"........pg.dropped.") {
            continue;
        }
        let noise = line.starts_with("--")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
            || line.contains("binary_upgrade_set_next_")
            || line.contains("binary_upgrade_set_missing_value")
            || line.starts_with("SELECT pg_catalog.setval(")
            || line.trim().is_empty();
        if noise {
            continue;
        }
        kept.push(
            match line.find("binary_upgrade_create_empty_extension('pg_alphadome'") {
                Some(_) => line.split(", '{").next().unwrap().to_string() + ", <config>);",
                None => line.to_string(),
            },
        );
    }
    // The entries of an access list come in the order they were granted, which an update
    // cannot repeat: consecutive GRANTs compare as a set.
    let mut sorted: Vec<String> = Vec::with_capacity(kept.len());
    for line in kept {
        let run_start = sorted.len()
            - sorted
                .iter()
                .rev()
                .take_while(|l| l.starts_with("GRANT "))
                .count();
        sorted.push(line);
        if sorted.last().is_some_and(|l| l.starts_with("GRANT ")) {
            sorted[run_start..].sort();
        }
    }
    sorted.join("\n") + "\n"
}

/// The extension's configuration relations (dumped with their data), by name.
fn dumped_relations(client: &mut postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT c::regclass::text FROM pg_extension e, unnest(e.extconfig) c
              WHERE e.extname = 'pg_alphadome' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `diff -u` of two texts, for a failing assertion.
fn diff(cluster: &Cluster, a: &str, b: &str) -> String {
    let (left, right) = (
        cluster.dir.join("upgraded.sql"),
        cluster.dir.join("fresh.sql"),
    );
    std::fs::write(&left, a).unwrap();
    std::fs::write(&right, b).unwrap();
    let out = std::process::Command::new("diff")
        .arg("-u")
        .arg(&left)
        .arg(&right)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn updating_0_1_0_keeps_the_data_and_equals_a_fresh_install() {
    update_keeps_the_data_and_equals_a_fresh_install("0.1.0");
}

#[test]
fn updating_0_2_0_keeps_the_data_and_equals_a_fresh_install() {
    update_keeps_the_data_and_equals_a_fresh_install("0.2.0");
}

fn update_keeps_the_data_and_equals_a_fresh_install(from: &str) {
    let cluster = Cluster::start(&[]);
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE upgraded")
        .unwrap();
    let mut client = cluster.connect("upgraded");
    client
        .batch_execute(&format!(
            // CREATE EXTENSION takes no parameters; `from` is one of this file's constants.
            "CREATE EXTENSION pg_alphadome VERSION '{from}' CASCADE"
        ))
        .unwrap();
    seed(&cluster, "upgraded");
    // The old release's functions run on this release's library until the update.
    ingest_question(&mut client, SEED_NUMBER, "wamid.before.1");
    let before: i64 = client
        .query_one("SELECT count(*) FROM alphadome.messages", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, 1);

    // Before 0.3.0 each template had its tone: the default one's becomes the personality's.
    client
        .batch_execute("UPDATE alphadome.bot_templates SET tone = 'playful' WHERE is_default")
        .unwrap();

    // The same session goes on after the update: its kept plans are made again.
    client
        .batch_execute("ALTER EXTENSION pg_alphadome UPDATE")
        .unwrap();
    let tone: String = client
        .query_one(
            "SELECT s.persona_tone FROM alphadome.bot_control_settings s
               JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id WHERE t.slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        tone, "playful",
        "the personality keeps the default template's tone"
    );
    let version: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_alphadome'",
            &[],
        )
        .unwrap()
        .get(0);
    let default: String = client
        .query_one(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_alphadome'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, default);
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM alphadome.bot_training_data), (SELECT count(*) FROM alphadome.messages),
                    alphadome.tenant_credential(id, 'whatsapp_access_token', 'upgrade test')
               FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (11, 1),
        "data kept"
    );
    assert_eq!(
        row.get::<_, String>(2),
        SEED_TOKEN,
        "the token still decrypts"
    );
    let counts = ingest(
        &mut client,
        &text_webhook(
            SEED_NUMBER,
            "254711000123",
            "wamid.after.1",
            "Do you deliver?",
        ),
    )
    .unwrap();
    assert_eq!(
        (counts["accepted"].as_i64(), counts["jobs"].as_i64()),
        (Some(1), Some(1))
    );
    let jobs: Vec<serde_json::Value> = client
        .query("SELECT alphadome.claim_jobs('upgrade-test', 10, 60)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        jobs.len(),
        2,
        "the job queued before the update and the new one: {jobs:?}"
    );
    for job in &jobs {
        assert_eq!(job["whatsapp"]["access_token"], SEED_TOKEN);
        let id = job["id"].as_i64().unwrap();
        let result = serde_json::json!({"wamid": format!("wamid.out.{id}"), "status": "sent"});
        client
            .execute("SELECT alphadome.complete_job($1, $2)", &[&id, &result])
            .unwrap();
    }

    cluster.create_database("fresh");
    let (upgraded, fresh) = (
        schema_of(&cluster, "upgraded"),
        schema_of(&cluster, "fresh"),
    );
    assert!(
        upgraded.contains("CREATE FUNCTION alphadome.ingest_webhook"),
        "the dump lists members"
    );
    assert!(
        upgraded == fresh,
        "the schema updated from {from} differs from a fresh install:\n{}",
        diff(&cluster, &upgraded, &fresh)
    );
    assert_eq!(
        dumped_relations(&mut client),
        dumped_relations(&mut cluster.connect("fresh")),
        "the same relations are dumped with their data"
    );
}
