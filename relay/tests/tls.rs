//! The relay's database sessions over TLS (postgres-native-tls), LISTEN included.
mod common;

use alphadome_e2e::mock::Mock;
use alphadome_e2e::relay::Relay;
use alphadome_e2e::Cluster;
use common::*;
use std::process::Command;

fn tcp_url(cluster: &Cluster, sslmode: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user=relay_login dbname=shop sslmode={sslmode}",
        cluster.port
    )
}

/// `alphadome-relay check` against this connection string, trusting `ca` when given.
fn check(url: &str, ca: Option<&std::path::Path>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alphadome-relay"));
    command.arg("check").env("DATABASE_URL", url);
    if let Some(ca) = ca {
        command.env("DATABASE_CA_FILE", ca);
    }
    command.output().unwrap()
}

fn relay_database(cluster: &Cluster) {
    let mut db = cluster.create_database("shop");
    db.batch_execute("CREATE ROLE relay_login LOGIN; GRANT alphadome_relay TO relay_login;")
        .unwrap();
    db.execute(
        "SELECT alphadome.create_tenant('tls-shop', 'TLS Shop', '0755000001', $1, $2)",
        &[&KASSANGAS_NUMBER, &KASSANGAS_TOKEN],
    )
    .unwrap();
    db.execute(
        "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
         SELECT id, 'faq', 'What are your opening hours?', 'Nine to six.' FROM alphadome.bot_tenants",
        &[],
    )
    .unwrap();
}

#[test]
fn with_sslmode_require_every_session_is_encrypted_listen_included() {
    let cluster = Cluster::start_tls(&[]);
    relay_database(&cluster);
    let meta = Mock::meta();
    let env = [
        ("DATABASE_URL", tcp_url(&cluster, "require")),
        (
            "DATABASE_CA_FILE",
            cluster.certificate().display().to_string(),
        ),
        ("META_GRAPH_URL", meta.base.clone()),
        ("META_APP_SECRET", APP_SECRET.to_string()),
        ("ALPHADOME_POLL_MS", "60000".to_string()),
    ];
    let relay = Relay::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_alphadome-relay")),
        &env,
        &cluster.dir.join("relay.log"),
    );
    let body = text_webhook(
        KASSANGAS_NUMBER,
        "254700300001",
        "What are your opening hours?",
        "wamid.e2e.tls",
    )
    .to_string();
    assert_eq!(
        relay
            .post(
                "/webhook",
                body.as_bytes(),
                Some(&Deployment::sign(body.as_bytes()))
            )
            .0,
        200
    );
    // Polling is off (60 s): only the NOTIFY over the TLS LISTEN session can wake the worker this fast.
    meta.wait_until(std::time::Duration::from_secs(10), "the reply", |r| {
        r.iter().any(|x| x.body.get("text").is_some())
    });
    let mut db = cluster.connect("shop");
    let (sessions, encrypted): (i64, i64) = {
        let row = db
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl)
                   FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
                  WHERE a.application_name = 'alphadome-relay'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(sessions >= 2, "the pool and the LISTEN session: {sessions}");
    assert_eq!(encrypted, sessions, "every relay session uses TLS");
    let listening: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
              WHERE a.application_name = 'alphadome-relay' AND s.ssl AND a.query ILIKE 'LISTEN%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listening, 1, "the LISTEN session is encrypted");
}

#[test]
fn sslmode_require_refuses_a_server_without_tls() {
    let cluster = Cluster::start(&[]);
    relay_database(&cluster);
    let out = check(&tcp_url(&cluster, "require"), None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
    // The same server without the requirement works: the refusal was TLS's.
    let out = check(&tcp_url(&cluster, "disable"), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let cluster = Cluster::start_tls(&[]);
    relay_database(&cluster);
    // sslmode=require with no CA given: the self-signed certificate is not trusted.
    assert!(!check(&tcp_url(&cluster, "require"), None).status.success());
    let out = check(&tcp_url(&cluster, "require"), Some(&cluster.certificate()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
