//! `alphadome-console`: the pool, the router and the server, until SIGTERM or SIGINT.
use crate::app::App;
use crate::config::{ConsoleArgs, APPLICATION_NAME};
use crate::router::router;
use alphadome_service::email::Mailer;
use alphadome_service::server::{serve, shutdown_signal};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest an SMTP conversation may take (a reset link is sent after the page is answered).
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// Time given to requests in progress on SIGTERM: a page takes well under it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let mailer = match &args.smtp_url {
        Some(url) => Some(Arc::new(Mailer::new(
            url,
            &args.mail_from,
            "ALPHADOME_CONSOLE_MAIL_FROM",
            MAIL_TIMEOUT,
        )?)),
        None => None,
    };
    let app = App {
        pool: args.database.pool(APPLICATION_NAME, args.pool_size)?,
        secure_cookies: args.secure_cookies(),
        mailer,
        public_url: args.public_url.clone(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, database = args.database.target(), "alphadome-console serving");
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(serve(
        listener,
        router(app, args.http.body_timeout()),
        args.http.limits(),
        stopped,
        SHUTDOWN_GRACE,
    ));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in progress");
    let _ = stop.send(true);
    server.await?;
    Ok(())
}
