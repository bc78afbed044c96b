//! Slow LLM calls have a lane of their own: a hundred of them in flight hold up neither an FAQ
//! answer nor each other.
mod common;

use alphadome_e2e::mock::Scripted;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn an_faq_answer_goes_out_while_a_hundred_llm_calls_are_in_flight() {
    let d = Deployment::start(&[]);
    // Every LLM call takes 3 s.
    d.llm.always(Some(Scripted {
        status: 200,
        body: json!({"id": "chatcmpl-slow", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "A slow answer.", "refusal": null}}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}),
        delay: Duration::from_secs(3),
    }));
    std::thread::scope(|s| {
        for n in 0..100 {
            let d = &d;
            s.spawn(move || {
                let from = format!("2547130{n:05}");
                d.post_text(
                    KASSANGAS_NUMBER,
                    &from,
                    "Which violin suits a child of seven?",
                    &format!("wamid.slow.{n}"),
                );
            });
        }
    });
    d.llm
        .wait_until(LONG, "100 LLM calls in flight", |r| r.len() >= 100);
    let asked = Instant::now();
    d.post_text(
        KASSANGAS_NUMBER,
        "254713999999",
        "What are your opening hours?",
        "wamid.fast.1",
    );
    let requests = d.meta.wait_until(LONG, "the FAQ answer", |r| {
        r.iter()
            .any(|x| x.body["text"]["body"] == OPENING_HOURS_ANSWER)
    });
    let faq_at = requests
        .iter()
        .find(|x| x.body["text"]["body"] == OPENING_HOURS_ANSWER)
        .unwrap()
        .received_at;
    let slow_sent = requests
        .iter()
        .filter(|x| x.body["text"]["body"] == "A slow answer.")
        .count();
    assert_eq!(
        slow_sent, 0,
        "the FAQ answer went out before any of the slow ones"
    );
    assert!(
        faq_at.duration_since(asked) < Duration::from_secs(2),
        "the FAQ answer took {:?} with the LLM lane full",
        faq_at.duration_since(asked)
    );
    // The hundredth call began before the first could end: they were all in flight together.
    let calls: Vec<Instant> = d.llm.requests().iter().map(|r| r.received_at).collect();
    let spread = *calls.iter().max().unwrap() - *calls.iter().min().unwrap();
    assert!(
        spread < Duration::from_secs(3),
        "100 LLM calls began over {spread:?}: not all at once"
    );
    d.meta.wait_until(LONG, "the slow answers", |r| {
        r.iter()
            .filter(|x| x.body["text"]["body"] == "A slow answer.")
            .count()
            == 100
    });
}
