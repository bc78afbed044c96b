//! `alphadome-relay serve`: the webhook server, the per-tenant routes and the worker, until
//! SIGTERM or SIGINT.
use crate::config::{ServeArgs, APPLICATION_NAME};
use crate::http::routes::TenantRoutes;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::worker::Worker;
use alphadome_service::server::{self, shutdown_signal};
use deadpool_postgres::Pool;
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The routes are read again this often even when no notification comes.
const ROUTES_REFRESH: Duration = Duration::from_secs(60);

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    large_allocations_mapped();
    let metrics = Arc::new(Metrics::default());
    // Connections: the ingest and report lanes, two lanes' claims, fail_job, chores, readiness.
    let pool = args
        .database
        .pool(APPLICATION_NAME, args.ingest_lanes + args.report_lanes + 6)?;
    let routes = Arc::new(TenantRoutes::default());
    let tenants_changed = Arc::new(Notify::new());
    let ingest = crate::batch::Batcher::start(
        pool.clone(),
        "SELECT alphadome.ingest_webhook_text($1, $2::text::uuid)",
        args.ingest_lanes,
        args.batch_max,
        "ingest_webhook",
        metrics.clone(),
    );
    let state = Arc::new(AppState {
        pool: pool.clone(),
        ingest,
        metrics: metrics.clone(),
        shared_app_secret: args.meta_app_secret.clone(),
        shared_verify_token: args.meta_verify_token.clone(),
        routes: routes.clone(),
        body_timeout: args.http.body_timeout(),
        body_limit: args.webhook_body_limit,
        hashing: tokio::sync::Semaphore::new(AppState::hashing_permits()),
        dummy_key: random_key(),
        large_body_seen: Default::default(),
    });
    // Routes first, so a tenant's webhook is not refused just after a start; a database that
    // is down does not stop the start (webhooks get 503 until it is back).
    if let Err(e) = routes.refresh(&pool).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "reading the webhook routes failed; retrying"
        );
    }
    let limits = args.http.limits();
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin_listen).await?;
    tracing::info!(listen = %listener.local_addr()?, admin_listen = %admin_listener.local_addr()?, database = args.database.target(), dry_run = args.dry_run, ingest_only = args.ingest_only, worker = %args.worker, "alphadome-relay serving");

    let (stop, stopped) = watch::channel(false);
    let routes_task = tokio::spawn(follow_routes(
        routes,
        pool.clone(),
        tenants_changed.clone(),
        stopped.clone(),
    ));
    let worker_task = if args.ingest_only {
        None
    } else {
        let worker = Arc::new(Worker::new(pool, args, metrics, tenants_changed)?);
        Some(tokio::spawn(worker.run(stopped.clone())))
    };

    let trim_task = tokio::spawn(release_memory(state.clone(), stopped.clone()));
    let admin_task = tokio::spawn(server::serve(
        admin_listener,
        http::admin_router(state.clone()),
        limits,
        stopped.clone(),
        grace,
    ));
    let server_task = tokio::spawn(server::serve(
        listener,
        http::router(state),
        limits,
        stopped.clone(),
        grace,
    ));

    shutdown_signal().await;
    tracing::info!("shutting down: no new webhooks or claims; finishing in-flight jobs");
    let _ = stop.send(true);
    server_task.await?;
    admin_task.await?;
    if let Some(worker_task) = worker_task {
        worker_task.await?;
    }
    routes_task.abort();
    trim_task.abort();
    Ok(())
}

/// Keeps the per-tenant webhook routes up to date (read once before serving): at every change
/// notification, and every ROUTES_REFRESH. A failed read keeps the last good copy and is tried again soon.
async fn follow_routes(
    routes: Arc<TenantRoutes>,
    pool: Pool,
    changed: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = ROUTES_REFRESH;
    loop {
        tokio::select! {
            _ = changed.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = match routes.refresh(&pool).await {
            Ok(()) => ROUTES_REFRESH,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "reading the webhook routes failed; retrying"
                );
                Duration::from_secs(1)
            }
        };
    }
}

/// 32 bytes from the system's random source, for the dummy webhook key.
fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    // SAFETY: getrandom(2) writes at most key.len() bytes into key.
    let filled = unsafe { libc::getrandom(key.as_mut_ptr().cast(), key.len(), 0) };
    if filled != key.len() as isize {
        // Still unknown to a stranger: the process id and the time.
        let seed = format!("{}{:?}", std::process::id(), std::time::SystemTime::now());
        key = sha2::Sha256::digest(seed.as_bytes()).to_vec();
    }
    key
}

/// How often the allocator is asked to hand freed memory back, when a large body was read.
const RELEASE_EVERY: Duration = Duration::from_secs(2);

/// After a burst of large bodies, hands the memory they took back to the system (glibc keeps
/// freed memory for reuse), so a stranger's burst does not leave the relay large.
async fn release_memory(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RELEASE_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        if state
            .large_body_seen
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            let _ = tokio::task::spawn_blocking(trim_heap).await;
        }
    }
}

/// Allocations of 256 KiB and more (a webhook body as it grows) get their own mapping, which
/// goes back to the system when freed: glibc would otherwise raise this threshold after the
/// first large free and keep such bodies in its heap.
#[cfg(target_env = "gnu")]
fn large_allocations_mapped() {
    // SAFETY: mallopt sets a glibc tunable; called before the bodies are allocated.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(target_env = "gnu"))]
fn large_allocations_mapped() {}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory of glibc's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}
