//! Statements that arrive together are committed together: group commit. Each caller sends one
//! single-row statement and waits for its own row; a few lanes (one database connection each)
//! take whatever is waiting when they are free and run it as one transaction, its statements
//! pipelined. There is no timer: a lone statement goes at once, and under load the batches grow
//! by themselves while a commit is in flight. A caller hears back only after the commit.
//!
//! A statement that fails aborts its batch; the batch then runs again one statement per
//! transaction, so only the failing one fails (the statements here write only in the database,
//! and a rolled-back batch left nothing behind).
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use futures_util::future::join_all;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A statement's parameters, owned so that they can wait in the queue.
pub type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// Why a statement has no row: the database refused it (its own error), or was not reached.
#[derive(Debug)]
pub enum Failed {
    Refused(tokio_postgres::Error),
    Unavailable(String),
}

struct Call {
    params: Params,
    reply: oneshot::Sender<Result<Row, Failed>>,
}

/// One statement's batches.
#[derive(Clone)]
pub struct Batcher {
    calls: mpsc::Sender<Call>,
}

impl Batcher {
    /// `lanes` connections run `sql` for everyone; a batch holds at most `max_batch` calls.
    pub fn start(
        pool: Pool,
        sql: &'static str,
        lanes: usize,
        max_batch: usize,
        name: &'static str,
        metrics: Arc<Metrics>,
    ) -> Batcher {
        let (calls, waiting) = mpsc::channel::<Call>(8192);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..lanes.max(1) {
            let (pool, waiting, metrics) = (pool.clone(), waiting.clone(), metrics.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut waiting = waiting.lock().await;
                        let Some(first) = waiting.recv().await else {
                            return;
                        };
                        let mut batch = vec![first];
                        while batch.len() < max_batch.max(1) {
                            match waiting.try_recv() {
                                Ok(call) => batch.push(call),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    metrics.batch(name, batch.len());
                    run(&pool, sql, batch).await;
                }
            });
        }
        Batcher { calls }
    }

    /// Runs the statement with these parameters; its row once committed.
    pub async fn call(&self, params: Params) -> Result<Row, Failed> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(Call { params, reply })
            .await
            .map_err(|_| Failed::Unavailable("the relay is stopping".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(Failed::Unavailable("the batch was dropped".into())))
    }
}

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

async fn run(pool: &Pool, sql: &str, batch: Vec<Call>) {
    let mut client = match pool.get().await {
        Ok(client) => client,
        Err(e) => return answer_all(batch, || Failed::Unavailable(format!("{e:#}"))),
    };
    let statement = match client.prepare_cached(sql).await {
        Ok(statement) => statement,
        Err(e) => {
            return answer_all(batch, || {
                Failed::Unavailable(alphadome_service::database::describe(&e))
            })
        }
    };
    if batch.len() > 1 {
        let together: Result<Vec<Row>, tokio_postgres::Error> = async {
            let tx = client.transaction().await?;
            let params: Vec<Vec<&(dyn ToSql + Sync)>> =
                batch.iter().map(|c| refs(&c.params)).collect();
            let rows = join_all(params.iter().map(|p| tx.query_one(&statement, p))).await;
            let rows = rows.into_iter().collect::<Result<Vec<Row>, _>>()?;
            tx.commit().await?;
            Ok(rows)
        }
        .await;
        match together {
            Ok(rows) => {
                for (call, row) in batch.into_iter().zip(rows) {
                    let _ = call.reply.send(Ok(row));
                }
                return;
            }
            // The connection is gone: everyone hears so (nothing was committed).
            Err(e) if client.is_closed() || e.as_db_error().is_none() => {
                let why = alphadome_service::database::describe(&e);
                return answer_all(batch, || Failed::Unavailable(why.clone()));
            }
            // One statement failed: each again on its own.
            Err(_) => {}
        }
    }
    for call in batch {
        let result = match client.query_one(&statement, &refs(&call.params)).await {
            Ok(row) => Ok(row),
            Err(e) if e.as_db_error().is_some() => Err(Failed::Refused(e)),
            Err(e) => Err(Failed::Unavailable(alphadome_service::database::describe(
                &e,
            ))),
        };
        let _ = call.reply.send(result);
    }
}

fn answer_all(batch: Vec<Call>, failed: impl Fn() -> Failed) {
    for call in batch {
        let _ = call.reply.send(Err(failed()));
    }
}
