//! What a stranger can do to a public HTTP service of ours (the relay, the console), and what
//! it must answer: headers or a body sent a byte at a time, a connection that sends nothing,
//! a body over the limit, more idle connections than it may hold. Each check takes the service
//! under test; the relay's and the console's tests run the same checks.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A running service: where it listens, its process, and a POST it takes a body on. Its
/// header and body timeouts must be 1 second (ALPHADOME_HEADER_TIMEOUT, ALPHADOME_BODY_TIMEOUT)
/// for the checks that say so.
pub struct Service {
    /// host:port
    pub addr: String,
    pub pid: u32,
    /// A path a GET gets 200 from at once (the relay's /healthz, the console's /login).
    pub quick_path: String,
    /// The path of the POST.
    pub post_path: String,
    /// Header lines of the POST besides host and content-length, each ending in \r\n.
    pub post_headers: String,
    /// A body the POST takes.
    pub body: Vec<u8>,
}

impl Service {
    /// The POST's request line and headers, up to the blank line, for a body of `length` bytes
    /// (None: chunked).
    pub fn head(&self, length: Option<u64>) -> String {
        let length = match length {
            Some(n) => format!("content-length: {n}\r\n"),
            None => "transfer-encoding: chunked\r\n".into(),
        };
        format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\n{}{length}\r\n",
            self.post_path, self.addr, self.post_headers
        )
    }

    /// The status of a plain GET.
    pub fn get(&self, path: &str) -> u16 {
        reqwest::blocking::get(format!("http://{}{path}", self.addr))
            .expect("the service answers")
            .status()
            .as_u16()
    }
}

/// Writes `head` (request line and headers) and then `body` in chunks of `chunk` bytes,
/// `pause` apart, stopping when the service answers or closes; returns the status it answered
/// (None: it closed without one) and how long after the first byte that came. For what a
/// client library will not do: a body it never sends, sends slowly, or that has no length.
pub fn raw(
    addr: &str,
    head: &str,
    body: &[u8],
    chunk: usize,
    pause: Duration,
) -> (Option<u16>, Duration) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read_some = |stream: &mut TcpStream, answer: &mut Vec<u8>| -> bool {
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                answer.windows(4).any(|w| w == b"\r\n\r\n")
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                false
            }
            Err(_) => true,
        }
    };
    let mut done = stream.write_all(head.as_bytes()).is_err();
    for piece in body.chunks(chunk.max(1)) {
        if done || read_some(&mut stream, &mut answer) {
            break;
        }
        done = stream.write_all(piece).is_err();
        std::thread::sleep(pause);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !read_some(&mut stream, &mut answer) && Instant::now() < deadline {}
    let took = started.elapsed();
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|a| a.strip_prefix("HTTP/1.1 "))
        .and_then(|a| a.get(..3))
        .and_then(|code| code.parse().ok());
    (status, took)
}

/// Headers dribbled a byte every 100 ms are cut off after the header timeout (1 s), before they
/// end; so is a connection that sends nothing.
pub fn slow_and_missing_headers_are_cut_off(service: &Service) {
    let head = service.head(Some(service.body.len() as u64));
    let (status, took) = raw(
        &service.addr,
        "",
        head.as_bytes(),
        1,
        Duration::from_millis(100),
    );
    assert!(status.is_none() || status == Some(408), "{status:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    let (status, took) = raw(&service.addr, "", b"", 1, Duration::ZERO);
    assert!(status.is_none() || status == Some(408), "{status:?}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(4)).contains(&took),
        "{took:?}"
    );
}

/// Whole headers, then the body a byte every 200 ms: 408 after the body timeout (1 s).
pub fn a_slow_body_gets_408(service: &Service) {
    let head = service.head(Some(service.body.len() as u64));
    let (status, took) = raw(
        &service.addr,
        &head,
        &service.body,
        1,
        Duration::from_millis(200),
    );
    assert_eq!(status, Some(408));
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// Forty unfinished 2 MB bodies (half sent, then nothing) are each answered within the body
/// timeout (1 s), and memory grows by less than `max_growth_mib` (the console once held such
/// logins unanswered, its memory five times what it was; the relay takes webhooks up to 4 MiB).
pub fn unfinished_large_bodies_are_answered(service: &Service, max_growth_mib: f64) {
    let before = crate::process_memory_mb(service.pid, "VmRSS");
    let declared = 2_000_000u64;
    let half = vec![b'a'; declared as usize / 2];
    let clients: Vec<_> = (0..40)
        .map(|_| {
            let (addr, head, half) = (
                service.addr.clone(),
                service.head(Some(declared)),
                half.clone(),
            );
            std::thread::spawn(move || raw(&addr, &head, &half, half.len(), Duration::ZERO))
        })
        .collect();
    for client in clients {
        let (status, took) = client.join().unwrap();
        assert!(
            matches!(status, Some(408 | 413)) || status.is_none(),
            "{status:?}"
        );
        assert!(took < Duration::from_secs(6), "{took:?}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(service.get(&service.quick_path), 200);
    let after = crate::process_memory_mb(service.pid, "VmRSS");
    crate::report(&format!(
        "{}: RSS {before:.1} MiB, {after:.1} MiB after 40 unfinished 2 MB bodies",
        service.addr
    ));
    assert!(
        after < before + max_growth_mib,
        "RSS {after:.1} MiB after 40 unfinished 2 MB bodies (before: {before:.1})"
    );
}

/// A declared length over `limit` is refused (413) before any of the body is read; a chunked
/// body without one, once it passes the limit.
pub fn a_body_over_the_limit_is_refused(service: &Service, limit: usize) {
    let (status, took) = raw(
        &service.addr,
        &service.head(Some(10_000_000_000)),
        b"",
        1,
        Duration::ZERO,
    );
    assert_eq!(status, Some(413));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let piece = 64 << 10;
    let chunks = limit / piece + 2;
    let chunked = format!("{piece:x}\r\n{}\r\n", " ".repeat(piece)).repeat(chunks);
    // Written four chunks at a time: quick enough for a body timeout of 1 s.
    let (status, _) = raw(
        &service.addr,
        &service.head(None),
        chunked.as_bytes(),
        4 * piece,
        Duration::ZERO,
    );
    assert_eq!(status, Some(413));
}

/// A thousand idle connections (within the cap): `quick` (a request of the caller's) and a GET
/// of the quick path still take under 500 ms, and memory stays under `max_rss_mib`.
pub fn idle_connections_leave_it_quick_and_bounded(
    service: &Service,
    max_rss_mib: f64,
    quick: impl FnOnce(),
) {
    raise_open_files_limit(8192);
    let before = crate::process_memory_mb(service.pid, "VmRSS");
    let idle: Vec<TcpStream> = (0..1_000)
        .map(|_| TcpStream::connect(&service.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    assert_eq!(service.get(&service.quick_path), 200);
    quick();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "{took:?}");
    let during = crate::process_memory_mb(service.pid, "VmRSS");
    crate::report(&format!(
        "{}: RSS {before:.1} MiB, {during:.1} MiB with 1,000 idle connections; answered in {took:?}",
        service.addr
    ));
    assert!(
        during < max_rss_mib,
        "RSS {during:.1} MiB with 1,000 idle connections (before: {before:.1})"
    );
    drop(idle);
}

/// Three times `cap` idle connections (ALPHADOME_MAX_CONNECTIONS): the service holds no more
/// than the cap (the rest wait in the listen backlog), and a request behind them is answered
/// once the idle ones are cut off (header timeout, 1 s).
pub fn idle_connections_beyond_the_cap_wait(service: &Service, cap: usize) {
    raise_open_files_limit(8192);
    let sockets = || {
        std::fs::read_dir(format!("/proc/{}/fd", service.pid))
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    };
    let before = sockets();
    let idle: Vec<TcpStream> = (0..cap * 3)
        .map(|_| TcpStream::connect(&service.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let held = sockets() - before;
    assert!(held <= cap, "{held} connections held; the cap is {cap}");
    let started = Instant::now();
    assert_eq!(service.get(&service.quick_path), 200);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

/// Lets this process (and the services it starts) open `to` files.
pub fn raise_open_files_limit(to: u64) {
    // SAFETY: plain get/setrlimit on this process; children inherit the new limit.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = to.min(limit.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// The status `head` (a request's line and headers, declaring a body) is answered with, and
/// how long that took, while not one byte of the body is sent: a refusal that needs nothing of
/// the body comes at once, not after the body timeout.
pub fn answer_before_the_body(addr: &str, head: &str) -> (Option<u16>, Duration) {
    raw(addr, head, b"", 1, Duration::ZERO)
}

/// The `q`-quantile (0..=1) of `samples` (sorted here).
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[at.min(samples.len() - 1)]
}

/// Samples `pid`'s resident memory every 50 ms while `during` runs; returns the highest.
pub fn peak_rss_mib_while(pid: u32, during: impl FnOnce()) -> f64 {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(crate::process_memory_mb(pid, "VmRSS"));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    during();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap()
}

/// Waits up to `within` for `pid`'s resident memory to come down under `below` MiB; returns
/// the last reading.
pub fn rss_mib_settled(pid: u32, below: f64, within: Duration) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let now = crate::process_memory_mb(pid, "VmRSS");
        if now < below || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
