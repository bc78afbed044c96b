//! The console's throttle under a burst: many wrong passwords at once, each on a connection of
//! its own, get no more password checks than the limit (the check and the record of a failure
//! are one step), for logins and for password changes alike.
use alphadome_e2e::Cluster;
use postgres::Client;
use std::sync::{Arc, Barrier};

const OWNER: &str = "owner@burst.test";
const PASSWORD: &str = "burst-test-password-7";
/// As many attempts as the console's pool or a proxy could run at once: well past each limit.
const BURST: usize = 24;

/// A database with a tenant and its owner.
fn shop() -> Cluster {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.create_database("shop");
    db.execute(
        "SELECT alphadome.create_owner(alphadome.create_tenant('burst', 'Burst Shop', '0711000077',
                    '100000000000777', $1), $2, $3)",
        &[&"EAAtest-burst-token", &OWNER, &PASSWORD],
    )
    .unwrap();
    cluster
}

/// Runs `attempt(i, connection)` on BURST connections at once and returns the outcomes.
fn burst(
    cluster: &Cluster,
    attempt: impl Fn(usize, &mut Client) -> String + Send + Sync + 'static,
) -> Vec<String> {
    let attempt = Arc::new(attempt);
    let start = Arc::new(Barrier::new(BURST));
    let threads: Vec<_> = (0..BURST)
        .map(|i| {
            let mut db = cluster.connect("shop");
            let (attempt, start) = (attempt.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                attempt(i, &mut db)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn count(outcomes: &[String], outcome: &str) -> usize {
    outcomes.iter().filter(|o| *o == outcome).count()
}

fn login(db: &mut Client, email: &str, password: &str, address: &str) -> (String, Option<String>) {
    let row = db
        .query_one(
            "SELECT outcome, session_token FROM alphadome.console_login($1, $2, $3)",
            &[&email, &password, &address],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn a_burst_of_wrong_logins_gets_no_more_checks_than_the_limits() {
    let cluster = shop();
    // One account from many addresses: 5 checked, the rest throttled.
    let outcomes = burst(&cluster, |i, db| {
        login(db, OWNER, "a wrong guess!", &format!("10.1.0.{i}")).0
    });
    assert_eq!(count(&outcomes, "wrong"), 5, "{outcomes:?}");
    assert_eq!(count(&outcomes, "throttled"), BURST - 5, "{outcomes:?}");
    // Many accounts from one address: 20 checked, the rest throttled.
    let outcomes = burst(&cluster, |i, db| {
        login(
            db,
            &format!("guess{i}@burst.test"),
            "a wrong guess!",
            "10.2.0.1",
        )
        .0
    });
    assert_eq!(count(&outcomes, "wrong"), 20, "{outcomes:?}");
    assert_eq!(count(&outcomes, "throttled"), BURST - 20, "{outcomes:?}");
}

#[test]
fn a_burst_of_wrong_current_passwords_gets_no_more_checks_than_a_login() {
    let cluster = shop();
    let token = login(&mut cluster.connect("shop"), OWNER, PASSWORD, "10.3.0.1")
        .1
        .unwrap();
    let outcomes = burst(&cluster, move |i, db| {
        let changed = db.query_one(
            "SELECT outcome FROM alphadome.console_change_password($1, 'a wrong guess!', 'a new long passphrase', $2)",
            &[&token, &format!("10.4.0.{i}")],
        );
        match changed {
            Ok(row) => row.get(0),
            Err(e) => alphadome_e2e::sqlstate(Err::<(), _>(e)),
        }
    });
    assert_eq!(count(&outcomes, "wrong"), 5, "{outcomes:?}");
    assert_eq!(count(&outcomes, "throttled"), BURST - 5, "{outcomes:?}");
    // The same failures throttle a login of the account.
    let mut db = cluster.connect("shop");
    assert_eq!(login(&mut db, OWNER, PASSWORD, "10.5.0.1").0, "throttled");
}
