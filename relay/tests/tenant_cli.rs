//! Onboarding as docs/operations.md tells a DBA to (`alphadome-relay tenant create` with the
//! secrets in the environment, `tenant set-credentials --secrets-on-stdin`): while it runs, no
//! process's command line holds a secret, no statement's text does (pg_stat_activity), and the
//! server, logging every statement, logs none.
use alphadome_e2e::Cluster;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const TOKEN: &str = "EAAtest-cli-whatsapp-token-5d1e";
const NEW_TOKEN: &str = "EAAtest-cli-whatsapp-token-rotated-77b0";
const AI_KEY: &str = "sk-test-cli-ai-key-0c4f";
const APP_SECRET: &str = "whsec-test-cli-app-secret-9a13";
const OPERATOR_PASSWORD: &str = "test-cli-operator-pw-31c9e";
const OWNER_PASSWORD: &str = "test-cli-owner-pw-8d2f4a";
const SECRETS: [&str; 6] = [
    TOKEN,
    NEW_TOKEN,
    AI_KEY,
    APP_SECRET,
    OPERATOR_PASSWORD,
    OWNER_PASSWORD,
];

/// `alphadome-relay tenant <args>` against `database_url`, with `env` and `stdin`.
fn tenant(database_url: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut all = vec!["tenant"];
    all.extend_from_slice(args);
    relay(database_url, &all, env, stdin)
}

/// `alphadome-relay <args>` against `database_url`, with `env` and `stdin`.
fn relay(database_url: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alphadome-relay"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env_remove("AI_API_KEY")
        .env_remove("META_APP_SECRET")
        .env_remove("ALPHADOME_CONSOLE_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// What the watcher saw while onboarding ran.
#[derive(Default)]
struct Seen {
    secret_in_a_command_line: AtomicBool,
    secret_in_a_query: AtomicBool,
    /// Samples of /proc that found the CLI running: the watcher did look while it ran.
    cli_seen: AtomicUsize,
    queries_sampled: AtomicUsize,
}

/// Reads every process's command line and every session's query, over and over, until `stop`.
fn watch(
    cluster_url: String,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut db = alphadome_e2e::Client::connect(&cluster_url, alphadome_e2e::NoTls).unwrap();
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let cmdline = String::from_utf8_lossy(&cmdline);
                if SECRETS.iter().any(|s| cmdline.contains(s)) {
                    seen.secret_in_a_command_line.store(true, Ordering::Relaxed);
                }
                if cmdline.contains("alphadome-relay\0tenant")
                    || cmdline.contains("alphadome-relay\0console-login")
                {
                    seen.cli_seen.fetch_add(1, Ordering::Relaxed);
                }
            }
            let queries: Vec<String> = db
                .query("SELECT coalesce(query, '') FROM pg_stat_activity", &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            if queries
                .iter()
                .any(|q| SECRETS.iter().any(|s| q.contains(s)))
            {
                seen.secret_in_a_query.store(true, Ordering::Relaxed);
            }
            seen.queries_sampled.fetch_add(1, Ordering::Relaxed);
        }
    })
}

fn log_holds_no_secret(cluster: &Cluster) {
    let log = cluster.server_log();
    for secret in SECRETS {
        assert!(!log.contains(secret), "a secret is in the server log");
    }
}

#[test]
fn onboarding_with_the_cli_shows_no_secret_in_ps_pg_stat_activity_or_the_log() {
    let cluster = Cluster::start(&["log_statement=all", "log_min_duration_statement=0"]);
    let mut db = cluster.create_database("shop");
    let url = cluster.url("postgres", "shop");
    let (seen, stop) = (Arc::new(Seen::default()), Arc::new(AtomicBool::new(false)));
    let watcher = watch(url.clone(), seen.clone(), stop.clone());

    let created = tenant(
        &url,
        &[
            "create",
            "--slug",
            "mama-jikoni",
            "--name",
            "Mama Jikoni",
            "--client-phone",
            "0722 000 111",
            "--phone-number-id",
            "100000000000500",
            "--token-expires-at",
            "infinity",
        ],
        &[
            ("WHATSAPP_ACCESS_TOKEN", TOKEN),
            ("AI_API_KEY", AI_KEY),
            ("META_APP_SECRET", APP_SECRET),
        ],
        "",
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let id = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let rotated = tenant(
        &url,
        &[
            "set-credentials",
            "--slug",
            "mama-jikoni",
            "--secrets-on-stdin",
        ],
        &[],
        &format!("# the rotated token\nWHATSAPP_ACCESS_TOKEN={NEW_TOKEN}\n"),
    );
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&rotated.stdout).trim(),
        "mama-jikoni: set whatsapp_access_token"
    );
    // The console's first logins: an operator's (password in the environment) and the owner's
    // (password on standard input).
    let operator = relay(
        &url,
        &["console-login", "--operator", "--email", "ops@example.test"],
        &[("ALPHADOME_CONSOLE_PASSWORD", OPERATOR_PASSWORD)],
        "",
    );
    assert!(
        operator.status.success(),
        "{}",
        String::from_utf8_lossy(&operator.stderr)
    );
    let owner = relay(
        &url,
        &[
            "console-login",
            "--slug",
            "mama-jikoni",
            "--email",
            "owner@example.test",
            "--password-on-stdin",
        ],
        &[],
        &format!("{OWNER_PASSWORD}\n"),
    );
    assert!(
        owner.status.success(),
        "{}",
        String::from_utf8_lossy(&owner.stderr)
    );
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();

    assert!(
        seen.cli_seen.load(Ordering::Relaxed) > 0,
        "the watcher saw the CLI run"
    );
    assert!(seen.queries_sampled.load(Ordering::Relaxed) > 0);
    assert!(
        !seen.secret_in_a_command_line.load(Ordering::Relaxed),
        "a secret was on a command line"
    );
    assert!(
        !seen.secret_in_a_query.load(Ordering::Relaxed),
        "a secret was in a statement's text"
    );
    log_holds_no_secret(&cluster);
    let log = cluster.server_log();
    assert!(
        log.contains("alphadome.create_tenant(slug => $1"),
        "the statements carry parameters"
    );
    assert!(log.contains("alphadome.set_credentials($1::text::uuid"));

    // The credentials are the ones given.
    let mut stored = |credential: &str| -> String {
        db.query_one(
            "SELECT alphadome.tenant_credential($1::text::uuid, $2, 'test') = $3",
            &[
                &id,
                &credential,
                &match credential {
                    "whatsapp_access_token" => NEW_TOKEN,
                    "ai_api_key" => AI_KEY,
                    _ => APP_SECRET,
                },
            ],
        )
        .unwrap()
        .get::<_, bool>(0)
        .to_string()
    };
    for credential in ["whatsapp_access_token", "ai_api_key", "app_secret"] {
        assert_eq!(stored(credential), "true", "{credential}");
    }
    // The logins open with their passwords; the owner's is the shop's.
    for (email, password, shop) in [
        ("ops@example.test", OPERATOR_PASSWORD, None),
        ("owner@example.test", OWNER_PASSWORD, Some(id.as_str())),
    ] {
        let row = db
            .query_one(
                "SELECT a.password_hash = crypt($2, a.password_hash), a.bot_tenant_id::text
                   FROM alphadome.console_accounts a WHERE a.email = $1",
                &[&email, &password],
            )
            .unwrap();
        assert!(row.get::<_, bool>(0), "{email}'s password");
        assert_eq!(row.get::<_, Option<String>>(1).as_deref(), shop, "{email}");
    }
}

#[test]
fn a_console_login_without_a_password_says_how_to_give_one() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    let url = cluster.url("postgres", "shop");
    let refused = relay(
        &url,
        &["console-login", "--operator", "--email", "ops@example.test"],
        &[],
        "",
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains(
        "no password given: set ALPHADOME_CONSOLE_PASSWORD or give it on standard input with --password-on-stdin"
    ));
}

/// A role that may not turn parameter logging off, on a server that logs every statement, is
/// stopped before any secret is sent; with the role setting docs/security.md gives, it goes on.
/// The server also logs the parameters of a failing statement (a DBA's walk-through found a
/// refused onboarding's token in the log that way), and asking costs no error in the log.
#[test]
fn the_cli_refuses_where_the_server_would_log_its_parameters() {
    let cluster = Cluster::start(&["log_statement=all", "log_parameter_max_length_on_error=-1"]);
    let mut db = cluster.create_database("shop");
    db.batch_execute("CREATE ROLE onboarding LOGIN IN ROLE alphadome_admin")
        .unwrap();
    let url = cluster.url("onboarding", "shop");
    let create = |phone_number_id: &str| {
        tenant(
            &url,
            &[
                "create",
                "--slug",
                "shop",
                "--name",
                "Shop",
                "--client-phone",
                "0711000001",
                "--phone-number-id",
                phone_number_id,
            ],
            &[("WHATSAPP_ACCESS_TOKEN", TOKEN)],
            "",
        )
    };
    let refused = create("100000000000003");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("the role onboarding may not turn that off: as a superuser, ALTER ROLE onboarding SET log_parameter_max_length = 0"),
        "it says what to do: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    db.batch_execute("ALTER ROLE onboarding SET log_parameter_max_length = 0")
        .unwrap();
    let created = create("100000000000003");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    // A value create_tenant refuses: its error, not the statement, reaches the log and stderr.
    let failed = tenant(
        &url,
        &[
            "create",
            "--slug",
            "other",
            "--name",
            "Other",
            "--client-phone",
            "not a phone",
            "--phone-number-id",
            "100000000000004",
        ],
        &[("WHATSAPP_ACCESS_TOKEN", TOKEN)],
        "",
    );
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("22"),
        "a SQLSTATE and its message: {stderr}"
    );
    assert!(!SECRETS.iter().any(|s| stderr.contains(s)));
    log_holds_no_secret(&cluster);
    assert!(
        !cluster
            .server_log()
            .contains("permission denied to set parameter"),
        "the CLI asks whether it may, rather than trying"
    );
}

#[test]
fn a_wrong_slug_is_named() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    let url = cluster.url("postgres", "shop");
    let refused = tenant(
        &url,
        &["set-credentials", "--slug", "no-such-shop"],
        &[("WHATSAPP_ACCESS_TOKEN", TOKEN)],
        "",
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("no tenant has the slug \"no-such-shop\""),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
