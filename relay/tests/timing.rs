//! What strangers' large bodies cost the relay, measured: memory during and after a burst,
//! /healthz latency under a flood, and the time each kind of slug takes. One test runs the
//! three in turn, alone in this binary, so no other test's load is measured with them.
mod common;

use alphadome_e2e::hostile;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn large_bodies_cost_strangers_memory_health_and_timing_nothing() {
    a_burst_of_large_bodies_leaves_memory_where_it_was();
    health_stays_quick_while_eight_clients_post_large_bodies();
    every_slug_takes_the_same_time();
}

/// 150 slow 4 MiB unsigned POSTs at once (chunked, so no declared length refuses them first):
/// each is refused before its body is read, memory stays under 100 MiB throughout, and comes
/// back within 20% of idle. Then bodies the relay must read whole (a well-formed, wrong
/// signature, 3 MB, 8 at a time): their memory is given back too.
fn a_burst_of_large_bodies_leaves_memory_where_it_was() {
    let d = Deployment::start(&[]);
    let pid = d.relay.pid();
    std::thread::sleep(Duration::from_millis(500));
    let idle = alphadome_e2e::process_memory_mb(pid, "VmRSS");
    let piece = 64 << 10;
    let chunked = std::sync::Arc::new(
        format!("{piece:x}\r\n{}\r\n", "a".repeat(piece))
            .repeat(4 << 20 >> 16)
            .into_bytes(),
    );
    let unsigned = post_head(&d, "/webhook", None, "");
    let peak = hostile::peak_rss_mib_while(pid, || {
        let clients: Vec<_> = (0..150)
            .map(|_| {
                let (addr, head, body) = (d.relay.addr(), unsigned.clone(), chunked.clone());
                std::thread::spawn(move || {
                    hostile::raw(&addr, &head, &body, piece, Duration::from_millis(20))
                })
            })
            .collect();
        for client in clients {
            let (status, took) = client.join().unwrap();
            assert_eq!(status, Some(401));
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
    });
    let after = hostile::rss_mib_settled(pid, idle * 1.2, Duration::from_secs(10));
    alphadome_e2e::report(&format!(
        "relay RSS: idle {idle:.1} MiB, peak {peak:.1} MiB during 150 slow unsigned 4 MiB POSTs, {after:.1} MiB after"
    ));
    assert!(peak < 100.0, "peak {peak:.1} MiB (idle {idle:.1})");
    assert!(after < idle * 1.2, "{after:.1} MiB after (idle {idle:.1})");

    let large = std::sync::Arc::new(vec![b' '; 3_000_000]);
    let peak = hostile::peak_rss_mib_while(pid, || {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (url, body) = (d.relay.url.clone(), large.clone());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    for _ in 0..3 {
                        let status = client
                            .post(format!("{url}/webhook"))
                            .header("x-hub-signature-256", WRONG_SIGNATURE)
                            .body(body.to_vec())
                            .send()
                            .unwrap()
                            .status();
                        assert_eq!(status, 401);
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
    let after = hostile::rss_mib_settled(pid, idle * 1.2, Duration::from_secs(10));
    alphadome_e2e::report(&format!(
        "relay RSS: peak {peak:.1} MiB during 24 wrongly signed 3 MB POSTs, {after:.1} MiB after (idle {idle:.1})"
    ));
    assert!(after < idle * 1.2, "{after:.1} MiB after (idle {idle:.1})");
}

/// 8 clients post 3 MB bodies under a well-formed, wrong signature (read whole and hashed: the
/// costly kind; unsigned ones are refused unread) while /healthz is asked 200 times.
fn health_stays_quick_while_eight_clients_post_large_bodies() {
    let d = Deployment::start(&[]);
    let mut quiet = health_samples(&d, 100);
    let quiet_p99 = hostile::quantile(&mut quiet, 0.99);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let large = std::sync::Arc::new(vec![b' '; 3_000_000]);
    let posted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (url, body, stop, posted) = (
                d.relay.url.clone(),
                large.clone(),
                stop.clone(),
                posted.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = client
                        .post(format!("{url}/webhook"))
                        .header("x-hub-signature-256", WRONG_SIGNATURE)
                        .body(body.to_vec())
                        .send();
                    assert_eq!(answer.map(|a| a.status().as_u16()).ok(), Some(401));
                    posted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut samples = health_samples(&d, 200);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in flood {
        client.join().unwrap();
    }
    let (median, p99) = (
        hostile::quantile(&mut samples, 0.5),
        hostile::quantile(&mut samples, 0.99),
    );
    alphadome_e2e::report(&format!(
        "/healthz under 8 clients posting 3 MB bodies ({} posted): median {median:?}, p99 {p99:?}; p99 without them {quiet_p99:?}",
        posted.load(std::sync::atomic::Ordering::Relaxed)
    ));
    // A machine busy with other work stalls any process now and then: the flood may not make
    // the p99 more than twice what it is without it.
    let allowed = HEALTH_P99.max(quiet_p99 * 2);
    assert!(
        p99 < allowed,
        "p99 {p99:?} (median {median:?}; without the flood {quiet_p99:?})"
    );
}

/// The p99 of /healthz under the flood: 20 ms in a release build (the figure); a debug
/// build on a busy two-core machine is given twice that.
const HEALTH_P99: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(40)
} else {
    Duration::from_millis(20)
};

/// `n` timings of GET /healthz, 10 ms apart.
fn health_samples(d: &Deployment, n: usize) -> Vec<Duration> {
    let client = reqwest::blocking::Client::new();
    (0..n)
        .map(|_| {
            let started = Instant::now();
            let status = client
                .get(format!("{}/healthz", d.relay.url))
                .send()
                .unwrap()
                .status();
            assert_eq!(status, 200);
            let took = started.elapsed();
            std::thread::sleep(Duration::from_millis(10));
            took
        })
        .collect()
}

/// A 1 MB body under a wrong signature, posted to a slug with its own app secret, a tenant's
/// slug without one and a slug nobody has, 45 rounds of the three: the medians are within 10%
/// of each other, so timing does not tell which slugs exist or have a secret (before, only the
/// first was hashed). On a machine busy with other work a few milliseconds wander from round
/// to round, so each time is taken relative to its round's mean before the medians are
/// compared.
fn every_slug_takes_the_same_time() {
    let d = Deployment::start(&[]);
    let body = vec![b' '; 1_000_000];
    let slugs = ["other-shop", "kassangas", "nobody"];
    let client = reqwest::blocking::Client::new();
    let post = |slug: &str| {
        let started = Instant::now();
        let status = client
            .post(format!("{}/webhook/{slug}", d.relay.url))
            .header("x-hub-signature-256", WRONG_SIGNATURE)
            .body(body.clone())
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 401, "{slug}");
        started.elapsed().as_secs_f64()
    };
    // Warms the connection and the caches.
    for slug in slugs {
        post(slug);
    }
    let mut took: Vec<Vec<Duration>> = vec![Vec::new(); slugs.len()];
    let mut relative: Vec<Vec<Duration>> = vec![Vec::new(); slugs.len()];
    for round in 0..45 {
        let mut times = [0.0; 3];
        // Each round in another order, so no slug always follows the same one.
        for i in (0..slugs.len()).map(|k| (k + round) % slugs.len()) {
            times[i] = post(slugs[i]);
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        for (i, t) in times.iter().enumerate() {
            took[i].push(Duration::from_secs_f64(*t));
            // As a Duration, for quantile: 1 s stands for the round's mean.
            relative[i].push(Duration::from_secs_f64(t / mean));
        }
    }
    let medians: Vec<Duration> = took.iter_mut().map(|t| hostile::quantile(t, 0.5)).collect();
    let ratios: Vec<f64> = relative
        .iter_mut()
        .map(|r| hostile::quantile(r, 0.5).as_secs_f64())
        .collect();
    alphadome_e2e::report(&format!(
        "1 MB to {slugs:?}: medians {medians:?}, relative to their round {ratios:.3?}"
    ));
    let (fastest, slowest) = (
        ratios.iter().cloned().fold(f64::MAX, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max),
    );
    assert!(
        slowest < fastest * 1.1,
        "{slugs:?}: {ratios:.3?} ({medians:?})"
    );
}
