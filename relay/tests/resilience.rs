//! Failures the relay must survive without losing a message: SIGKILL mid-job, a database
//! outage while webhooks arrive.
mod common;

use alphadome_e2e::mock::Scripted;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn killed_mid_job_then_restarted_every_job_completes() {
    let mut d = Deployment::start(&[("ALPHADOME_LEASE_SECONDS", "3")]);
    // The LLM is slow, so the jobs are in flight when the relay dies.
    d.llm.always(Some(Scripted {
        status: 200,
        body: slow_answer(),
        delay: Duration::from_secs(4),
    }));
    for i in 0..5 {
        d.post_text(
            KASSANGAS_NUMBER,
            &format!("25479900000{i}"),
            "Which violin for a beginner?",
            &format!("wamid.e2e.kill.{i}"),
        );
    }
    // At least five: on a busy machine a lease may run out before the poll sees exactly five,
    // and the job's second attempt is already in flight.
    d.llm
        .wait_until(LONG, "five LLM calls in flight", |r| r.len() >= 5);
    d.relay.kill();
    d.llm.always(None);
    d.relay.restart();
    d.wait_for(
        "every reply",
        "SELECT count(*) = 5 FROM alphadome.outbox WHERE kind = 'reply.send' AND status = 'done'",
        LONG,
    );
    let unfinished = d.count("SELECT count(*) FROM alphadome.outbox WHERE status <> 'done'");
    assert_eq!(unfinished, 0, "no job lost");
    // Each customer got exactly one reply: the kill fell inside the LLM calls, which ran again.
    let sends = d.meta.sends();
    assert_eq!(sends.len(), 5, "one reply per customer");
    assert!(
        d.llm.requests().len() >= 10,
        "the interrupted LLM calls ran again after the lease expired"
    );
    d.assert_no_secret_in_logs();
}

fn slow_answer() -> serde_json::Value {
    json!({"id": "chatcmpl-slow", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
           "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "too late", "refusal": null}}]})
}

#[test]
fn while_postgres_is_down_webhooks_get_503_and_nothing_acknowledged_is_lost() {
    let d = Deployment::start(&[]);
    assert_eq!(
        d.post_text(
            KASSANGAS_NUMBER,
            "254711200001",
            "What are your opening hours?",
            "wamid.e2e.before"
        )
        .0,
        200
    );
    d.cluster.stop();
    let during = text_webhook(
        KASSANGAS_NUMBER,
        "254711200002",
        "What are your opening hours?",
        "wamid.e2e.during",
    )
    .to_string();
    assert_eq!(d.post(during.as_bytes()).0, 503, "Meta will retry");
    assert_eq!(d.relay.admin_get("/readyz").0, 503);
    d.cluster.restart();
    // Meta's retry of the refused webhook.
    let mut status = 0;
    for _ in 0..100 {
        status = d.post(during.as_bytes()).0;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the relay reconnected");
    d.meta.wait_until(LONG, "both replies", |r| {
        ["wamid.e2e.before", "wamid.e2e.during"].iter().all(|w| {
            r.iter()
                .any(|x| x.body["context"]["message_id"] == *w && x.body.get("text").is_some())
        })
    });
    let inbound = d.count("SELECT count(*) FROM alphadome.messages WHERE direction = 'inbound'");
    assert_eq!(inbound, 2);
    // The worker's LISTEN session came back too: a new message is answered at once.
    d.post_text(
        KASSANGAS_NUMBER,
        "254711200003",
        "What are your opening hours?",
        "wamid.e2e.after",
    );
    d.meta.wait_until(
        Duration::from_secs(5),
        "the reply after reconnecting",
        |r| {
            r.iter().any(|x| {
                x.body["context"]["message_id"] == "wamid.e2e.after" && x.body.get("text").is_some()
            })
        },
    );
    d.assert_no_secret_in_logs();
}
