//! A Patroni cluster for tests: `deploy/patroni/up.sh` (etcd, PostgreSQL nodes under Patroni,
//! HAProxy, the extension) in a temporary folder on free ports, with Patroni's timing shortened;
//! `deploy/patroni/down.sh --purge` when dropped. Needs root (the servers run as postgres).
use crate::{as_postgres, check, pg_bin, repo_root, Client, NoTls};
use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Patroni's timing in the tests: a leader key lives 10 s, the loop runs every second (Patroni
/// requires loop_wait + 2 × retry_timeout <= ttl). Production keeps Patroni's 30/10/10.
const TTL: &str = "10";
const LOOP_WAIT: &str = "1";
const RETRY_TIMEOUT: &str = "3";

pub struct Patroni {
    pub state: PathBuf,
    pub nodes: usize,
    pub database: String,
    port_base: u16,
}

/// One member as `patronictl list` shows it.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// "Leader", "Sync Standby" or "Replica".
    pub role: String,
    /// "running", "starting", "stopped", ...
    pub state: String,
    pub timeline: Option<i64>,
}

impl Patroni {
    /// Brings up `nodes` PostgreSQL nodes with `database` created and the extension in it.
    pub fn up(nodes: usize, database: &str) -> Patroni {
        let state = std::env::temp_dir().join(format!("alphadome-ha-{}", std::process::id()));
        let port_base = free_port_block(30);
        let ha = Patroni {
            state,
            nodes,
            database: database.into(),
            port_base,
        };
        let up = std::process::Command::new(repo_root().join("deploy/patroni/up.sh"))
            .envs(ha.env())
            .env("HA_NODES", nodes.to_string())
            .env("HA_DATABASE", database)
            .env("PG_CONFIG", pg_bin("pg_config"))
            .env("HA_TTL", TTL)
            .env("HA_LOOP_WAIT", LOOP_WAIT)
            .env("HA_RETRY_TIMEOUT", RETRY_TIMEOUT)
            .output()
            .unwrap();
        check(up, "deploy/patroni/up.sh");
        ha
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HA_STATE", self.state.display().to_string()),
            ("HA_PORT_BASE", self.port_base.to_string()),
        ]
    }

    /// HAProxy's address: always the primary.
    pub fn proxy_port(&self) -> u16 {
        self.port_base + 2
    }

    /// PostgreSQL's port of node `i` (1-based), as up.sh numbers them.
    pub fn node_port(&self, i: usize) -> u16 {
        self.port_base + 10 + i as u16
    }

    fn rest_port(&self, i: usize) -> u16 {
        self.port_base + 20 + i as u16
    }

    /// Through HAProxy.
    pub fn proxy_url(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname={}",
            self.proxy_port(),
            self.database
        )
    }

    /// Every node, the client picking the one that accepts writes.
    pub fn multi_host_url(&self, user: &str) -> String {
        let hosts = vec!["127.0.0.1"; self.nodes].join(",");
        let ports: Vec<String> = (1..=self.nodes)
            .map(|i| self.node_port(i).to_string())
            .collect();
        format!(
            "host={hosts} port={} user={user} dbname={} target_session_attrs=read-write",
            ports.join(","),
            self.database
        )
    }

    /// Node `i` alone, whatever its role.
    pub fn node_url(&self, i: usize, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname={}",
            self.node_port(i),
            self.database
        )
    }

    /// A superuser session on the primary (through HAProxy), retried for up to 60 s while
    /// there is none.
    pub fn connect(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = format!("{} connect_timeout=5", self.proxy_url("postgres"));
            match Client::connect(&url, NoTls) {
                Ok(client) => return client,
                Err(e) => assert!(Instant::now() < deadline, "no primary for 60 s: {e}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `patronictl list`.
    pub fn members(&self) -> Vec<Member> {
        let out = self.patronictl(&["list", "-f", "json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        list.as_array()
            .into_iter()
            .flatten()
            .map(|m| Member {
                name: m["Member"].as_str().unwrap_or_default().into(),
                role: m["Role"].as_str().unwrap_or_default().into(),
                state: m["State"].as_str().unwrap_or_default().into(),
                timeline: m["TL"].as_i64(),
            })
            .collect()
    }

    /// The node whose REST API answers /primary with 200, if any (1-based).
    pub fn primary(&self) -> Option<usize> {
        (1..=self.nodes).find(|i| {
            reqwest::blocking::get(format!("http://127.0.0.1:{}/primary", self.rest_port(*i)))
                .is_ok_and(|r| r.status().as_u16() == 200)
        })
    }

    /// SIGKILLs the postmaster of node `i` (its Patroni stays up, as when PostgreSQL alone
    /// crashes).
    pub fn kill_postgres(&self, i: usize) {
        let pid_file = self.state.join(format!("node{i}/data/postmaster.pid"));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("a postmaster pid");
        // SAFETY: kill has no memory preconditions; the pid is the node's postmaster.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGKILL) },
            0,
            "kill -9 {pid}"
        );
    }

    /// A planned switchover from node `from` to node `to`.
    pub fn switchover(&self, from: usize, to: usize) {
        check(
            self.patronictl(&[
                "switchover",
                "--leader",
                &format!("node{from}"),
                "--candidate",
                &format!("node{to}"),
                "--force",
            ]),
            "patronictl switchover",
        );
    }

    /// Waits until node `i` is a running replica on the leader's timeline: a rejoined old leader.
    pub fn wait_for_replica(&self, i: usize, timeout: Duration) -> Member {
        let name = format!("node{i}");
        let deadline = Instant::now() + timeout;
        loop {
            let members = self.members();
            let leader_timeline = members
                .iter()
                .find(|m| m.role == "Leader")
                .and_then(|m| m.timeline);
            if let Some(m) = members.iter().find(|m| m.name == name) {
                if m.role != "Leader"
                    && m.state == "running"
                    && m.timeline.is_some()
                    && m.timeline == leader_timeline
                {
                    return m.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not rejoin as a replica: {members:?}; see {}",
                self.state.join(format!("{name}/patroni.log")).display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// What Patroni of node `i` logged (PostgreSQL's own log lines included).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.state.join(format!("node{i}/patroni.log"))).unwrap_or_default()
    }

    fn patronictl(&self, args: &[&str]) -> std::process::Output {
        as_postgres(std::path::Path::new("patronictl"))
            .arg("-c")
            .arg(self.state.join("node1/patroni.yml"))
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Patroni {
    fn drop(&mut self) {
        let mut down = std::process::Command::new(repo_root().join("deploy/patroni/down.sh"));
        down.envs(self.env());
        if std::env::var_os("ALPHADOME_KEEP_CLUSTERS").is_none() {
            down.arg("--purge");
        }
        let _ = down.output();
    }
}

/// The first port of `count` consecutive free ports.
fn free_port_block(count: u16) -> u16 {
    for _ in 0..100 {
        let seed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = 20000 + seed % 30000;
        if (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no {count} consecutive free ports");
}
