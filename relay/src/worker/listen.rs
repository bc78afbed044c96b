//! The worker's LISTEN session: NOTIFY alphadome_outbox wakes the lanes, NOTIFY
//! alphadome_tenants has the webhook routes read again.
use crate::backoff::DATABASE_RETRY;
use crate::config::{DatabaseArgs, APPLICATION_NAME};
use alphadome_service::database::describe;
use crate::metrics::Metrics;
use futures_util::future::poll_fn;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

/// What a notification asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// New jobs may be waiting: every lane claims.
    Lanes,
    /// A tenant changed: the webhook routes are read again.
    Routes,
}

impl Wake {
    pub fn for_channel(channel: &str) -> Wake {
        match channel {
            "alphadome_tenants" => Wake::Routes,
            _ => Wake::Lanes,
        }
    }
}

/// LISTEN on a session of its own until shutdown; after every (re)connect, LISTEN again and
/// wake everything once (notifications sent while away are lost).
pub async fn listen(
    database: DatabaseArgs,
    metrics: Arc<Metrics>,
    wake: Arc<dyn Fn(Wake) + Send + Sync>,
    shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0;
    while !*shutdown.borrow() {
        match database.connect(APPLICATION_NAME).await {
            Ok((client, mut connection)) => {
                let on_notification = wake.clone();
                let driver = tokio::spawn(async move {
                    while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                on_notification(Wake::for_channel(n.channel()))
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = describe(&e), "LISTEN connection lost");
                                break;
                            }
                        }
                    }
                });
                match client
                    .batch_execute("LISTEN alphadome_outbox; LISTEN alphadome_tenants")
                    .await
                {
                    Ok(()) => {
                        failures = 0;
                        // Whatever happened while away: poll once, read the routes again.
                        wake(Wake::Lanes);
                        wake(Wake::Routes);
                        let _ = driver.await;
                    }
                    Err(e) => {
                        tracing::warn!(error = describe(&e), "LISTEN failed");
                        driver.abort();
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "cannot connect for LISTEN; retrying"
            ),
        }
        metrics.worker_reconnect();
        failures += 1;
        tokio::time::sleep(DATABASE_RETRY.delay(failures)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_change_rereads_the_routes_and_anything_else_wakes_the_lanes() {
        assert_eq!(Wake::for_channel("alphadome_tenants"), Wake::Routes);
        assert_eq!(Wake::for_channel("alphadome_outbox"), Wake::Lanes);
    }
}
