//! Secrets stay out of the server log on the paths documented for DBAs (docs/security.md): the
//! seed, and create_tenant and set_credentials called with psql variables (whose values psql
//! writes into the statement's text) or with bind parameters, when a statement fails and when
//! every statement is logged.
use alphadome_e2e::{Cluster, Options};

const TOKEN: &str = "EAAtest-log-whatsapp-token-6a1f";
const AI_KEY: &str = "sk-test-log-ai-key-3e9b";
const APP_SECRET: &str = "whsec-test-log-app-secret-8c20";

/// Asserts the server log holds none of the secrets (without printing the log: it might).
fn log_is_clean(cluster: &Cluster, expect_in_log: &str) {
    let log = cluster.server_log();
    assert!(
        log.contains(expect_in_log),
        "the log shows what happened ({expect_in_log})"
    );
    for secret in [TOKEN, AI_KEY, APP_SECRET, cluster.master_key_hex.as_str()] {
        assert!(!log.contains(secret), "a secret is in the server log");
    }
}

fn secrets(phone_number_id: &str) -> [(&str, &str); 3] {
    [
        ("whatsapp_phone_number_id", phone_number_id),
        ("whatsapp_access_token", TOKEN),
        ("ai_api_key", AI_KEY),
    ]
}

#[test]
fn a_failing_seed_logs_the_error_but_not_the_secrets() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    let seed = cluster.run_seed("shop", &secrets("not-digits"));
    assert!(
        !seed.status.success(),
        "a phone number id that is not digits fails the seed"
    );
    log_is_clean(&cluster, "whatsapp_phone_number_id must be the digits");
}

#[test]
fn the_seed_with_every_statement_logged_logs_no_secret() {
    let cluster = Cluster::start(&["log_statement=all", "log_min_duration_statement=0"]);
    cluster.create_database("shop");
    let seed = cluster.run_seed("shop", &secrets("100000000000001"));
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    log_is_clean(&cluster, "statement: BEGIN");
}

/// A role that is not allowed to turn statement logging off is stopped before the first
/// statement that holds a secret.
#[test]
fn the_seed_refuses_to_run_where_it_cannot_keep_secrets_out_of_the_log() {
    let cluster = Cluster::start(&["log_statement=all"]);
    cluster.create_database("shop");
    cluster
        .connect("shop")
        .batch_execute("CREATE ROLE operator LOGIN IN ROLE alphadome_admin")
        .unwrap();
    let mut args = vec![
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        "operator",
        "-d",
        "shop",
    ];
    let settings: Vec<String> = secrets("100000000000001")
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for s in &settings {
        args.extend(["-v", s.as_str()]);
    }
    let seed = alphadome_e2e::repo_root().join("sql/seed/kassangas.sql");
    args.extend(["-f", seed.to_str().unwrap()]);
    let run = cluster.tool("psql", &args);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("permission denied to set parameter"),
        "it says why"
    );
    log_is_clean(&cluster, "permission denied to set parameter");
}

#[test]
fn failing_tenant_functions_log_the_error_but_not_the_statement() {
    let cluster = Cluster::start(&[]);
    let mut client = cluster.create_database("shop");
    // Through psql variables, the way a DBA types it.
    let script = cluster.dir.join("create.sql");
    std::fs::write(
        &script,
        "SELECT alphadome.create_tenant('Bad Slug!', 'Shop', '0711000001', '100000000000002',
                                        :'token', :'ai_key', :'app_secret');",
    )
    .unwrap();
    let vars = [
        ("token", TOKEN),
        ("ai_key", AI_KEY),
        ("app_secret", APP_SECRET),
    ];
    let run = cluster.psql_script("shop", &vars, script.to_str().unwrap());
    assert!(!run.status.success());
    log_is_clean(&cluster, "slug must be 2 to 63 characters");

    let script = cluster.dir.join("rotate.sql");
    std::fs::write(
        &script,
        "SELECT alphadome.set_credentials('00000000-0000-0000-0000-000000000000', :'token', :'ai_key');",
    )
    .unwrap();
    let run = cluster.psql_script("shop", &vars, script.to_str().unwrap());
    assert!(!run.status.success());
    log_is_clean(
        &cluster,
        "no tenant with id 00000000-0000-0000-0000-000000000000",
    );

    // Through bind parameters, the way an application calls it.
    let failed = client.query_one(
        "SELECT alphadome.create_tenant('shop', 'Shop', 'not a phone', '100000000000003', $1, $2, $3)",
        &[&TOKEN, &AI_KEY, &APP_SECRET],
    );
    assert!(failed.is_err());
    log_is_clean(&cluster, "not a phone number");
}

/// An application's bind parameters are not logged either when every statement is logged,
/// once its role has log_parameter_max_length = 0 (docs/security.md).
#[test]
fn bind_parameters_stay_out_of_a_full_statement_log_with_the_documented_role_setting() {
    let cluster = Cluster::start_with(Options {
        settings: &["log_statement=all"],
        ..Options::default()
    });
    let mut client = cluster.create_database("shop");
    client
        .batch_execute("CREATE ROLE onboarding LOGIN IN ROLE alphadome_admin; ALTER ROLE onboarding SET log_parameter_max_length = 0")
        .unwrap();
    let mut app =
        postgres::Client::connect(&cluster.url("onboarding", "shop"), postgres::NoTls).unwrap();
    app.query_one(
        "SELECT alphadome.create_tenant('shop', 'Shop', '0711000001', '100000000000003', $1, $2, $3)",
        &[&TOKEN, &AI_KEY, &APP_SECRET],
    )
    .unwrap();
    log_is_clean(&cluster, "alphadome.create_tenant");
}
