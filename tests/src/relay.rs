//! The relay binary as a child process: started with an environment, stopped by signal.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Relay {
    child: Option<Child>,
    /// The public listener: webhooks and /healthz.
    pub url: String,
    /// The admin listener: /readyz and /metrics.
    pub admin_url: String,
    pub log: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
}

impl Relay {
    /// Starts `alphadome-relay serve` with these settings and waits until /healthz answers. The
    /// relay binds port 0 for both listeners and its "serving" log line says which ports it got,
    /// so no port chosen here can be taken meanwhile by another test, and no other test's relay
    /// can answer for it. Its log (stderr, JSON lines) goes to `log`.
    pub fn start(binary: &Path, env: &[(&str, String)], log: &Path) -> Relay {
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        env.push(("ALPHADOME_LISTEN".into(), "127.0.0.1:0".into()));
        env.push(("ALPHADOME_ADMIN_LISTEN".into(), "127.0.0.1:0".into()));
        let mut relay = Relay {
            child: None,
            url: String::new(),
            admin_url: String::new(),
            log: log.to_path_buf(),
            binary: binary.to_path_buf(),
            env,
        };
        let (listen, admin_listen) = relay.spawn();
        relay.url = format!("http://{listen}");
        relay.admin_url = format!("http://{admin_listen}");
        // A restart binds the same ports again.
        relay
            .env
            .retain(|(k, _)| k != "ALPHADOME_LISTEN" && k != "ALPHADOME_ADMIN_LISTEN");
        relay.env.push(("ALPHADOME_LISTEN".into(), listen));
        relay
            .env
            .push(("ALPHADOME_ADMIN_LISTEN".into(), admin_listen));
        relay.wait_healthy();
        relay
    }

    /// Starts the process and waits for its own "serving" line (written once both listeners are
    /// bound): (listen, admin_listen) as it bound them. Panics, naming the log, if it exits first.
    fn spawn(&mut self) -> (String, String) {
        let already = std::fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // The "serving" line is what says the relay is up: written whatever level the caller
        // asks for the rest (the bench and the soak ask warn).
        let levels = match self.env.iter().find(|(k, _)| k == "RUST_LOG") {
            Some((_, asked)) => format!("{asked},alphadome_relay::serve=info"),
            None => "info".to_string(),
        };
        let child = Command::new(&self.binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", levels)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start alphadome-relay");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read(&self.log).unwrap_or_default();
            let since_spawn = String::from_utf8_lossy(text.get(already..).unwrap_or_default());
            if let Some(addresses) = since_spawn.lines().find_map(serving_addresses) {
                return addresses;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!("the relay exited ({status}); log: {}", self.log.display());
            }
            assert!(
                Instant::now() < deadline,
                "the relay did not start serving; log: {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{}/healthz", self.url))
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                Instant::now() < deadline,
                "the relay did not answer /healthz; log: {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The same relay again, with the same settings and port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.spawn();
        self.wait_healthy();
    }

    /// SIGKILL: no chance to finish or hand back anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap()
    }

    pub fn post(&self, path: &str, body: &[u8], signature: Option<&str>) -> (u16, String) {
        let mut request = reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let response = request.send().expect("the relay answers");
        (
            response.status().as_u16(),
            response.text().unwrap_or_default(),
        )
    }

    /// The relay's resident memory now, in MiB (from /proc).
    pub fn rss_mib(&self) -> f64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib / 1024.0
    }

    /// The relay's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The address the relay listens on.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// hostile::raw against this relay.
    pub fn raw(
        &self,
        head: &str,
        body: &[u8],
        chunk: usize,
        pause: Duration,
    ) -> (Option<u16>, Duration) {
        crate::hostile::raw(&self.addr(), head, body, chunk, pause)
    }

    /// A GET on the public listener.
    pub fn get(&self, path: &str) -> (u16, String) {
        get(&self.url, path)
    }

    /// A GET on the admin listener (/readyz, /metrics).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        get(&self.admin_url, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The (listen, admin_listen) of the relay's "alphadome-relay serving" log line.
fn serving_addresses(line: &str) -> Option<(String, String)> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    if fields.get("message")?.as_str()? != "alphadome-relay serving" {
        return None;
    }
    let address = |name: &str| fields.get(name)?.as_str().map(str::to_string);
    Some((address("listen")?, address("admin_listen")?))
}

fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::blocking::get(format!("{base}{path}")).expect("the relay answers");
    (
        response.status().as_u16(),
        response.text().unwrap_or_default(),
    )
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}
