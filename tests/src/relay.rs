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
    /// Starts `alphadome-relay serve` with these settings (ALPHADOME_LISTEN and
    /// ALPHADOME_ADMIN_LISTEN are chosen here) and waits until /healthz answers. Its log
    /// (stderr) goes to `log`.
    pub fn start(binary: &Path, env: &[(&str, String)], log: &Path) -> Relay {
        // Ports chosen free may be taken by another test's process before the relay binds them:
        // then it exits at once saying so, and it is started again on other ports.
        for _attempt in 0..3 {
            // Both listeners held together, so that the two ports differ.
            let listeners: Vec<std::net::TcpListener> = (0..2)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                .collect();
            let [port, admin_port] = [0, 1].map(|i| listeners[i].local_addr().unwrap().port());
            drop(listeners);
            let mut env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            env.push(("ALPHADOME_LISTEN".into(), format!("127.0.0.1:{port}")));
            env.push((
                "ALPHADOME_ADMIN_LISTEN".into(),
                format!("127.0.0.1:{admin_port}"),
            ));
            let mut relay = Relay {
                child: None,
                url: format!("http://127.0.0.1:{port}"),
                admin_url: format!("http://127.0.0.1:{admin_port}"),
                log: log.to_path_buf(),
                binary: binary.to_path_buf(),
                env,
            };
            match relay.try_spawn() {
                Ok(()) => return relay,
                Err(status) => {
                    let said = std::fs::read_to_string(log).unwrap_or_default();
                    if !said.contains("Address already in use") {
                        panic!("the relay exited ({status}); log: {}", log.display());
                    }
                }
            }
        }
        panic!(
            "the relay found no free port in three tries; log: {}",
            log.display()
        );
    }

    fn spawn(&mut self) {
        if let Err(status) = self.try_spawn() {
            panic!("the relay exited ({status}); log: {}", self.log.display());
        }
    }

    /// Starts the relay and waits for /healthz; Err with its exit status if it stops first.
    fn try_spawn(&mut self) -> Result<(), std::process::ExitStatus> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start alphadome-relay");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{}/healthz", self.url))
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                Instant::now() < deadline,
                "the relay did not come up; log: {}",
                self.log.display()
            );
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The same relay again, with the same settings and port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.spawn();
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
