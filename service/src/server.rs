//! The HTTP server under a router, with the limits a public URL needs: a bounded number of
//! connections, headers within a time limit (a connection that sends nothing, or dribbles its
//! headers, is closed), and a graceful stop. axum::serve sets none of these.
use axum::extract::ConnectInfo;
use axum::Router;
use clap::Args;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The settings of the server's limits; both binaries take them under the same names.
#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// Connections open at once (idle ones count); past it, new ones wait.
    #[arg(long, env = "ALPHADOME_MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; an idle connection is closed after it.
    #[arg(long, env = "ALPHADOME_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "ALPHADOME_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout_seconds: u64,
}

impl HttpArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.header_timeout_seconds.max(1)),
        }
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_seconds.max(1))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; past it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time to send a request's headers, the first as well as the next on a kept-alive
    /// connection (which is also how long an idle connection stays open).
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets requests in progress
/// finish for up to `grace`. Handlers may take the client's address (ConnectInfo<SocketAddr>).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopped(&mut shutdown) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out ends here; nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period were dropped");
    }
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Waits for SIGTERM or SIGINT: the signals that ask a service to stop.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers the default action (ending the process) still stops it.
        _ => std::future::pending().await,
    }
}
