//! `alphadome-relay serve`: the webhook server and the worker, until SIGTERM or SIGINT.
use crate::config::ServeArgs;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::worker::Worker;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let pool = crate::db::pool(&args.database, args.concurrency + 8)?;
    let state = Arc::new(AppState {
        pool: pool.clone(),
        metrics: metrics.clone(),
        shared_app_secret: args.meta_app_secret.clone(),
        shared_verify_token: args.meta_verify_token.clone(),
        tenant_secrets: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, dry_run = args.dry_run, worker = %args.worker, "alphadome-relay serving");

    let (stop, stopped) = watch::channel(false);
    let worker = Arc::new(Worker::new(pool, args, metrics)?);
    let worker_task = tokio::spawn(worker.run(stopped.clone()));

    let mut http_stopped = stopped.clone();
    let server = axum::serve(listener, http::router(state)).with_graceful_shutdown(async move {
        let _ = http_stopped.wait_for(|s| *s).await;
    });
    let server_task = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    tracing::info!("shutting down: no new webhooks or claims; finishing in-flight jobs");
    let _ = stop.send(true);
    server_task.await??;
    worker_task.await?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
