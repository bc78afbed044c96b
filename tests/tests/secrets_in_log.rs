//! Secrets stay out of the server log: the seed takes none, and create_tenant and
//! set_credentials keep them out when a statement fails, called with psql variables (whose
//! values psql writes into the statement's text) or with bind parameters, and out of a log of
//! every statement when passed as bind parameters with the documented role setting
//! (docs/security.md). relay/tests/tenant_cli.rs checks the documented way to onboard.
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

/// The seed takes no secret (psql would write it into a statement's text, and `psql -v` puts it
/// on a command line): given one as a psql variable, it stops before its first statement.
#[test]
fn the_seed_refuses_secrets_given_as_psql_variables() {
    let cluster = Cluster::start(&["log_statement=all"]);
    cluster.create_database("shop");
    for secret in [("whatsapp_access_token", TOKEN), ("ai_api_key", AI_KEY)] {
        let seed = cluster.run_seed("shop", &[secret]);
        assert!(!seed.status.success(), "{}", secret.0);
        assert!(
            String::from_utf8_lossy(&seed.stderr).contains("the seed takes no secrets"),
            "it says why"
        );
    }
    let tenants: i64 = cluster
        .connect("shop")
        .query_one("SELECT count(*) FROM alphadome.bot_tenants", &[])
        .unwrap()
        .get(0);
    assert_eq!(tenants, 0, "it stopped before making the tenant");
    log_is_clean(&cluster, "the seed takes no secrets");
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
