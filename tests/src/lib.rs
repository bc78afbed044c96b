//! End-to-end test harness: a throwaway PostgreSQL cluster (initdb in a temporary folder, a
//! random port, its own master key file) with pg_alphadome installed from the system
//! extension directory (`cargo pgrx install`, which `make test` runs first).
//!
//! Postgres refuses to run as root; as root the harness runs the server as `postgres`.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use postgres::{Client, NoTls};

pub mod daraja;
pub mod hostile;
pub mod kassangas;
pub mod mock;
pub mod patroni;
pub mod relay;
pub mod smtp;
pub mod spec;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A PostgreSQL program of the server the tests run: from ALPHADOME_PG_BIN, else the bindir of
/// PG_CONFIG (the Makefile sets it from PG_MAJOR), else of the pg_config on the PATH.
pub fn pg_bin(tool: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("ALPHADOME_PG_BIN") {
            return PathBuf::from(dir);
        }
        let pg_config = std::env::var("PG_CONFIG").unwrap_or_else(|_| "pg_config".into());
        let out = Command::new(&pg_config)
            .arg("--bindir")
            .output()
            .unwrap_or_else(|e| {
                panic!("{pg_config} --bindir: {e} (set PG_CONFIG or ALPHADOME_PG_BIN)")
            });
        assert!(out.status.success(), "{pg_config} --bindir failed");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .join(tool)
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// A command that runs as the postgres OS user when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn check(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server of `data` on a free port with the options `options_for(port)` gives, and
/// returns both. A port free when chosen can be taken before the server binds it (other tests
/// start servers and relays all the time): then the start is tried again on another port.
fn start_on_a_free_port(
    data: &Path,
    log: &Path,
    env: &[(String, String)],
    options_for: impl Fn(u16) -> String,
    what: &str,
) -> (u16, String) {
    for _ in 0..5 {
        let port = free_port();
        let options = options_for(port);
        let logged_before = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let output = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(log)
            .args(["-o", &options, "-w", "start"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        if output.status.success() {
            return (port, options);
        }
        let logged = std::fs::read(log).unwrap_or_default();
        let this_start =
            String::from_utf8_lossy(&logged[(logged_before as usize).min(logged.len())..])
                .into_owned();
        if !this_start.contains("Address already in use") {
            check(output, what);
        }
    }
    panic!("{what}: five free ports were taken before the server could bind them");
}

fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the key file as the postgres user with umask 077, so only the server can read it.
fn write_key_file(path: &Path, contents: &str) {
    use std::io::Write;
    let mut child = as_postgres(Path::new("/bin/sh"))
        .args(["-c", "umask 077; cat > \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(contents.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "writing the key file");
}

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    pub master_key_hex: String,
    options: String,
    /// Environment of the server process.
    env: Vec<(String, String)>,
}

/// How a cluster is started: extra `-c` settings, environment for the server, TLS, and
/// whether `alphadome.master_key_file` is set (a restore on a server without the key file).
#[derive(Default)]
pub struct Options<'a> {
    pub settings: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    pub tls: bool,
    pub without_master_key: bool,
}

impl Cluster {
    /// initdb, a key file `e2e:<random>`, and a running server. Extra `-c` settings may be given.
    pub fn start(settings: &[&str]) -> Cluster {
        Cluster::start_with(Options {
            settings,
            ..Options::default()
        })
    }

    /// With `ssl = on` and a fresh self-signed certificate for 127.0.0.1 (`server.crt` in
    /// the cluster's folder: what a client trusts).
    pub fn start_tls(settings: &[&str]) -> Cluster {
        Cluster::start_with(Options {
            settings,
            tls: true,
            ..Options::default()
        })
    }

    pub fn certificate(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    pub fn start_with(options: Options) -> Cluster {
        let Options {
            settings,
            env,
            tls,
            without_master_key,
        } = options;
        let dir = new_cluster_dir();
        let data = dir.join("data");
        check(
            as_postgres(&pg_bin("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--locale=C.UTF-8",
                    "-A",
                    "trust",
                    "--no-sync",
                ])
                .output()
                .unwrap(),
            "initdb",
        );
        let master_key_hex = random_hex(32);
        let key_file = dir.join("master.key");
        write_key_file(&key_file, &format!("e2e:{master_key_hex}\n"));

        if tls {
            check(
                as_postgres(Path::new("openssl"))
                    .args([
                        "req",
                        "-x509",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-days",
                        "1",
                        "-subj",
                        "/CN=127.0.0.1",
                        "-addext",
                        "subjectAltName=IP:127.0.0.1",
                    ])
                    .arg("-keyout")
                    .arg(dir.join("server.key"))
                    .arg("-out")
                    .arg(dir.join("server.crt"))
                    .output()
                    .unwrap(),
                "openssl req",
            );
            // The server refuses a key file others can read.
            check(
                as_postgres(Path::new("chmod"))
                    .arg("600")
                    .arg(dir.join("server.key"))
                    .output()
                    .unwrap(),
                "chmod",
            );
        }
        let options_for = |port: u16| {
            let mut options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                dir.display(),
            );
            if !without_master_key {
                options.push_str(&format!(
                    " -c alphadome.master_key_file={}",
                    key_file.display()
                ));
            }
            if tls {
                options.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                    dir.display()
                ));
            }
            for s in settings {
                options.push_str(" -c ");
                options.push_str(s);
            }
            options
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (port, options) = start_on_a_free_port(
            &data,
            &dir.join("server.log"),
            &env,
            options_for,
            "pg_ctl start",
        );
        Cluster {
            dir,
            port,
            master_key_hex,
            options,
            env,
        }
    }

    /// Replaces the key file with these `(key id, 64 hex)` keys, the last one current.
    pub fn set_master_keys(&self, keys: &[(&str, &str)]) {
        let contents: String = keys
            .iter()
            .map(|(id, hex)| format!("{id}:{hex}\n"))
            .collect();
        write_key_file(&self.dir.join("master.key"), &contents);
    }

    pub fn new_key_hex() -> String {
        random_hex(32)
    }

    /// Stops the server (fast shutdown), as an outage would.
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"], "pg_ctl stop");
    }

    /// pg_ctl on this cluster's data folder, as the postgres OS user.
    fn pg_ctl(&self, args: &[&str], what: &str) {
        check(
            as_postgres(&pg_bin("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(args)
                .output()
                .unwrap(),
            what,
        );
    }

    /// Starts it again with the settings it was first started with.
    pub fn restart(&self) {
        check(
            as_postgres(&pg_bin("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-o", &self.options, "-w", "start"])
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap(),
            "pg_ctl start",
        );
    }

    /// A streaming standby of this cluster (pg_basebackup -R), running on its own port and
    /// socket folder, with the same master key file (a standby must be able to decrypt once
    /// promoted).
    pub fn standby(&self) -> Cluster {
        let dir = new_cluster_dir();
        let data = dir.join("data");
        check(
            as_postgres(&pg_bin("pg_basebackup"))
                .arg("-h")
                .arg(&self.dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                    // At once, not after a spread checkpoint (minutes on an idle cluster).
                    "--checkpoint=fast",
                    "-D",
                ])
                .arg(&data)
                .output()
                .unwrap(),
            "pg_basebackup",
        );
        let options_for = |port: u16| {
            format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c alphadome.master_key_file={}",
                dir.display(),
                self.dir.join("master.key").display()
            )
        };
        let (port, options) = start_on_a_free_port(
            &data,
            &dir.join("server.log"),
            &[],
            options_for,
            "pg_ctl start (standby)",
        );
        Cluster {
            dir,
            port,
            master_key_hex: self.master_key_hex.clone(),
            options,
            env: self.env.clone(),
        }
    }

    /// Makes a standby the primary.
    pub fn promote(&self) {
        self.pg_ctl(&["-w", "promote"], "pg_ctl promote");
    }

    /// Stops the server as a crash would (immediate: no checkpoint, clients cut off).
    pub fn crash(&self) {
        self.pg_ctl(
            &["-m", "immediate", "-w", "stop"],
            "pg_ctl stop -m immediate",
        );
    }

    /// A libpq connection string for this cluster's socket.
    pub fn url(&self, user: &str, database: &str) -> String {
        format!(
            "host={} port={} user={user} dbname={database}",
            self.dir.display(),
            self.port
        )
    }

    pub fn connect(&self, database: &str) -> Client {
        let config = format!(
            "host={} port={} user=postgres dbname={database}",
            self.dir.display(),
            self.port
        );
        Client::connect(&config, NoTls).unwrap_or_else(|e| panic!("connect to {database}: {e}"))
    }

    /// Runs a client tool (psql, pg_dump) against this cluster; returns its output.
    pub fn tool(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(pg_bin(tool))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres"])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn psql(&self, args: &[&str]) -> String {
        let mut all = vec!["-X", "-v", "ON_ERROR_STOP=1"];
        all.extend_from_slice(args);
        String::from_utf8(check(self.tool("psql", &all), "psql").stdout).unwrap()
    }

    /// Loads sql/seed/kassangas.sql into `database` with these settings (name, value):
    /// whatsapp_phone_number_id and client_email as psql variables, whatsapp_access_token and
    /// ai_api_key (which the seed does not take) then given to set_credentials as bind
    /// parameters, as a program does. The seed uses placeholders for those not given.
    pub fn seed_kassangas(&self, database: &str, variables: &[(&str, &str)]) -> String {
        let is_secret = |name: &str| matches!(name, "whatsapp_access_token" | "ai_api_key");
        let settings: Vec<(&str, &str)> = variables
            .iter()
            .copied()
            .filter(|(name, _)| !is_secret(name))
            .collect();
        let out = check(self.run_seed(database, &settings), "the seed").stdout;
        let secret = |wanted: &str| {
            variables
                .iter()
                .find(|(name, _)| *name == wanted)
                .map(|(_, value)| value.to_string())
        };
        let (token, ai_key) = (secret("whatsapp_access_token"), secret("ai_api_key"));
        if token.is_some() || ai_key.is_some() {
            self.connect(database)
                .execute(
                    "SELECT alphadome.set_credentials(alphadome.tenant_for_slug('kassangas'),
                            whatsapp_access_token => $1, ai_api_key => $2)",
                    &[&token, &ai_key],
                )
                .expect("the seed's credentials");
        }
        String::from_utf8(out).unwrap()
    }

    /// The seed's psql run, which may fail.
    pub fn run_seed(&self, database: &str, variables: &[(&str, &str)]) -> Output {
        let seed = repo_root().join("sql/seed/kassangas.sql");
        self.psql_script(database, variables, seed.to_str().unwrap())
    }

    /// `psql -f script` with these variables, as a DBA runs a script; may fail.
    pub fn psql_script(&self, database: &str, variables: &[(&str, &str)], script: &str) -> Output {
        let settings: Vec<String> = variables
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let mut args = vec!["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database];
        for setting in &settings {
            args.extend(["-v", setting.as_str()]);
        }
        args.extend(["-f", script]);
        self.tool("psql", &args)
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn create_database(&self, name: &str) -> Client {
        self.connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut client = self.connect(name);
        client
            .batch_execute("CREATE EXTENSION pg_alphadome CASCADE")
            .unwrap();
        client
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        if std::env::var_os("ALPHADOME_KEEP_CLUSTERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The repository root: the parent of the test package running (`tests/` or `relay/`), or the
/// current folder for a binary run outside cargo (`make bench` runs from the root).
/// A new, empty folder for a cluster of this process, owned by the postgres OS user.
fn new_cluster_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("alphadome-e2e-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        check(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .output()
                .unwrap(),
            "chown",
        );
    }
    dir
}

/// A memory figure of a process from /proc/<pid>/status, in MB: "VmRSS" now, "VmHWM" its peak.
/// NaN when the process is gone.
pub fn process_memory_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Waits until no job is queued or running, polling every 200 ms: Ok(how long it took), or
/// Err(the jobs still open) when `timeout` passes first.
pub fn wait_for_queue_to_drain(db: &mut Client, timeout: Duration) -> Result<Duration, i64> {
    let started = Instant::now();
    loop {
        let open: i64 = db
            .query_one(
                "SELECT count(*) FROM alphadome.outbox WHERE status IN ('queued', 'running')",
                &[],
            )
            .unwrap()
            .get(0);
        if open == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            return Err(open);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A line for the test run's output even when the test passes (the test harness keeps what
/// `println!` prints to itself unless a test fails; the stderr handle is not captured). For
/// counts a reader of `make test` should see: the chaos run's duplicates, the failover's time.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn repo_root() -> PathBuf {
    // Read at run time: CI and local checkouts share one target folder, and cargo reuses a
    // test binary built in another checkout, whose compile-time path may no longer exist.
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(tests_dir) => Path::new(&tests_dir).parent().unwrap().to_path_buf(),
        None => std::env::current_dir().expect("the current folder is readable"),
    }
}

/// The SQLSTATE of a failed statement ("" when it succeeded).
pub fn sqlstate(result: Result<impl Sized, postgres::Error>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| format!("not a database error: {e}")),
    }
}

#[cfg(test)]
mod memory_tests {
    #[test]
    fn process_memory_reads_this_process_and_nothing_for_a_gone_one() {
        let me = std::process::id();
        let now = super::process_memory_mb(me, "VmRSS");
        let peak = super::process_memory_mb(me, "VmHWM");
        assert!(now > 0.0 && peak >= now, "{now} MB now, {peak} MB at peak");
        // A field named only by its prefix is not the field.
        assert!(super::process_memory_mb(me, "VmR").is_nan());
        assert!(super::process_memory_mb(u32::MAX, "VmRSS").is_nan());
    }
}

/// Every row of every table of the alphadome schema, as text, that contains `needle`
/// ("table: row | row"): what a deletion or an erasure must leave none of.
pub fn rows_naming(client: &mut Client, needle: &str) -> Vec<String> {
    let tables: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'alphadome' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let query: String = client
            .query_one(
                "SELECT format('SELECT string_agg(t::text, '' | '') FROM alphadome.%I t WHERE strpos(t::text, $1) > 0', $1::text)",
                &[&table],
            )
            .unwrap()
            .get(0);
        let rows: Option<String> = client.query_one(&query, &[&needle]).unwrap().get(0);
        if let Some(rows) = rows {
            found.push(format!("{table}: {rows}"));
        }
    }
    found
}
