//! `alphadome-relay check` against a real cluster.
use alphadome_e2e::Cluster;
use alphadome_relay::check::EXTENSION_VERSION;
use std::process::Command;

fn check(cluster: &Cluster, user: &str, database: &str) -> (bool, String, String) {
    check_url(cluster.url(user, database))
}

fn check_url(url: String) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alphadome-relay"))
        .arg("check")
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_passes_for_a_relay_role_and_explains_each_failure() {
    let cluster = Cluster::start(&[]);
    let mut client = cluster.create_database("shop");
    client
        .batch_execute(
            "CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;
             CREATE ROLE stranger LOGIN;",
        )
        .unwrap();
    client.batch_execute("CREATE DATABASE empty").unwrap();

    let (ok, stdout, _) = check(&cluster, "relay_login", "shop");
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!("extension: pg_alphadome {EXTENSION_VERSION}")),
        "{stdout}"
    );
    assert!(stdout.contains("member of alphadome_relay"), "{stdout}");
    // One line per rule of security_check(), each passing.
    let rules: i64 = client
        .query_one("SELECT count(*) FROM alphadome.security_check()", &[])
        .unwrap()
        .get(0);
    assert!(rules >= 7, "the rules, the console's among them");
    assert_eq!(
        stdout.matches("ok    security: ").count() as i64,
        rules,
        "{stdout}"
    );

    // A deliberate break: the relay's login may bypass RLS.
    client
        .batch_execute("ALTER ROLE relay_login BYPASSRLS")
        .unwrap();
    let (ok, _, stderr) = check(&cluster, "relay_login", "shop");
    assert!(!ok, "check must fail when security_check does");
    assert!(
        stderr.contains("FAIL  security: relay_role_least_privilege"),
        "{stderr}"
    );
    assert!(
        stderr.contains("FAIL  login: relay_login is BYPASSRLS"),
        "{stderr}"
    );
    client
        .batch_execute("ALTER ROLE relay_login NOBYPASSRLS")
        .unwrap();

    // A superuser login passes every membership test, and row-level security does not bind it.
    let (ok, _, stderr) = check(&cluster, "postgres", "shop");
    assert!(!ok, "check must fail for a superuser login");
    assert!(
        stderr.contains("login: postgres is a superuser: row-level security does not apply to it"),
        "{stderr}"
    );

    let (ok, _, stderr) = check(&cluster, "stranger", "shop");
    assert!(!ok);
    assert!(
        stderr.contains("not a member of alphadome_relay"),
        "{stderr}"
    );

    let (ok, _, stderr) = check(&cluster, "relay_login", "empty");
    assert!(!ok);
    assert!(stderr.contains("pg_alphadome is not installed"), "{stderr}");

    // A database still on 0.1.0: told to update it.
    client.batch_execute("CREATE DATABASE old").unwrap();
    cluster
        .connect("old")
        .batch_execute("CREATE EXTENSION pg_alphadome VERSION '0.1.0' CASCADE")
        .unwrap();
    let (ok, _, stderr) = check(&cluster, "relay_login", "old");
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "pg_alphadome 0.1.0 is installed, this relay needs {EXTENSION_VERSION}: ALTER EXTENSION pg_alphadome UPDATE"
        )),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_alphadome-relay"))
        .arg("check")
        .env(
            "DATABASE_URL",
            "postgres://relay:sk-test-hunter2@127.0.0.1:1/shop",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(
        !stderr.contains("sk-test-hunter2"),
        "the password leaked into the error"
    );
}

#[test]
fn check_names_a_standby_and_passes_when_the_hosts_lead_to_the_primary() {
    let primary = Cluster::start(&[]);
    primary
        .create_database("shop")
        .batch_execute("CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;")
        .unwrap();
    let standby = primary.standby();
    let (ok, stdout, stderr) = check(&standby, "relay_login", "shop");
    assert!(!ok, "check must fail on a standby: {stdout}");
    assert!(
        stderr.contains(&format!(
            "FAIL  server: the local socket of port {} is a standby (read-only, in recovery)",
            standby.port
        )),
        "{stderr}"
    );
    // Both hosts, the standby first: target_session_attrs=read-write skips it.
    let both = format!(
        "host={},{} port={},{} user=relay_login dbname=shop target_session_attrs=read-write",
        standby.dir.display(),
        primary.dir.display(),
        standby.port,
        primary.port
    );
    let (ok, stdout, stderr) = check_url(both);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "ok    server: the local socket of port {} is the primary",
            primary.port
        )),
        "{stdout}"
    );
}
