//! Statements that arrive together are committed together: group commit. Each caller sends one
//! single-row statement and waits for its own row; a few lanes (one database connection each)
//! take whatever is waiting when they are free and run it as one transaction, its statements
//! pipelined. There is no timer: a lone statement goes at once, and under load the batches grow
//! by themselves while a commit is in flight. A caller hears back only after the commit.
//!
//! A statement that fails aborts its batch; the batch then runs again one statement per
//! transaction, so only the failing one fails (the statements here write only in the database,
//! and a rolled-back batch left nothing behind).
//!
//! A set-based statement (`SetBatcher`: complete_jobs) takes a whole batch as arrays in one
//! statement and answers each caller from its row; an element the database refuses is named in
//! its row, and the others go.
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use futures_util::future::join_all;
use std::future::Future;
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
        let calls = gather(lanes, max_batch, name, metrics, move |batch| {
            let pool = pool.clone();
            async move { run(&pool, sql, batch).await }
        });
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

/// `lanes` tasks, each taking whatever calls wait when it is free (at most `max_batch`) and
/// handing them to `run`; the calls' way in.
fn gather<C, F, Fut>(
    lanes: usize,
    max_batch: usize,
    name: &'static str,
    metrics: Arc<Metrics>,
    run: F,
) -> mpsc::Sender<C>
where
    C: Send + 'static,
    F: Fn(Vec<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (calls, waiting) = mpsc::channel::<C>(8192);
    let waiting = Arc::new(Mutex::new(waiting));
    let run = Arc::new(run);
    for _ in 0..lanes.max(1) {
        let (waiting, metrics, run) = (waiting.clone(), metrics.clone(), run.clone());
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
                run(batch).await;
            }
        });
    }
    calls
}

struct Element {
    id: i64,
    value: serde_json::Value,
    reply: oneshot::Sender<Result<(), String>>,
}

/// A set-based statement's batches: each call is one element (an id and a jsonb value); the
/// elements waiting go as one statement, `sql` taking them as `$1 bigint[]` and `$2 jsonb[]`
/// and returning one row per element, in their order: `(id, error_code, error)`, both NULL when
/// the element went.
#[derive(Clone)]
pub struct SetBatcher {
    calls: mpsc::Sender<Element>,
}

impl SetBatcher {
    /// `lanes` connections run `sql` for everyone; a batch holds at most `max_batch` elements.
    pub fn start(
        pool: Pool,
        sql: &'static str,
        lanes: usize,
        max_batch: usize,
        name: &'static str,
        metrics: Arc<Metrics>,
    ) -> SetBatcher {
        let calls = gather(lanes, max_batch, name, metrics, move |batch| {
            let pool = pool.clone();
            async move { run_set(&pool, sql, batch).await }
        });
        SetBatcher { calls }
    }

    /// Runs the statement for this element, with whatever else waits; Ok once committed, else
    /// why not (`SQLSTATE: message` when the database refused the element).
    pub async fn call(&self, id: i64, value: serde_json::Value) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(Element { id, value, reply })
            .await
            .map_err(|_| String::from("the relay is stopping"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(String::from("the batch was dropped")))
    }
}

/// One statement for the batch (its own transaction). Should the statement itself fail (not
/// an element's row: something one element's work raised), each element runs again alone, so
/// only the failing one fails.
async fn run_set(pool: &Pool, sql: &str, batch: Vec<Element>) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => return answer_elements(batch, &format!("{e:#}")),
    };
    let statement = match client.prepare_cached(sql).await {
        Ok(statement) => statement,
        Err(e) => {
            return answer_elements(batch, &alphadome_service::database::describe(&e));
        }
    };
    if batch.len() > 1 {
        match query_elements(&client, &statement, &batch).await {
            Ok(rows) => return answer_rows(batch, rows),
            // The connection is gone: everyone hears so (nothing was committed).
            Err(e) if client.is_closed() || e.as_db_error().is_none() => {
                return answer_elements(batch, &alphadome_service::database::describe(&e));
            }
            // Something one element did raised: each again on its own.
            Err(_) => {}
        }
    }
    for element in batch {
        let one = vec![element];
        match query_elements(&client, &statement, &one).await {
            Ok(rows) => answer_rows(one, rows),
            Err(e) => answer_elements(one, &alphadome_service::database::describe(&e)),
        }
    }
}

async fn query_elements(
    client: &deadpool_postgres::Client,
    statement: &tokio_postgres::Statement,
    elements: &[Element],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let ids: Vec<i64> = elements.iter().map(|e| e.id).collect();
    let values: Vec<&serde_json::Value> = elements.iter().map(|e| &e.value).collect();
    client.query(statement, &[&ids, &values]).await
}

/// Each element's answer from its row: its error as `describe` words a refused statement's.
fn answer_rows(elements: Vec<Element>, rows: Vec<Row>) {
    if rows.len() != elements.len() {
        let why = format!("{} rows for {} elements", rows.len(), elements.len());
        return answer_elements(elements, &why);
    }
    for (element, row) in elements.into_iter().zip(rows) {
        let answer = match (
            row.get::<_, Option<String>>(1),
            row.get::<_, Option<String>>(2),
        ) {
            (None, _) => Ok(()),
            (Some(code), error) => Err(format!("{code}: {}", error.unwrap_or_default())),
        };
        let _ = element.reply.send(answer);
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

fn answer_elements(batch: Vec<Element>, why: &str) {
    for element in batch {
        let _ = element.reply.send(Err(why.to_string()));
    }
}
