//! Semantic FAQ matching (optional, issue 29): the FAQ embedded when it changes, a message the
//! lexical matcher left to the LLM answered from the FAQ by its meaning, a contradicting lexical
//! match winning, and no embeddings call for a tenant without a key. The mock LLM's embeddings
//! are bags of words (tests/src/mock.rs), with a message placed next to a FAQ text on purpose
//! (`embed_as`) where a real model would place a paraphrase.
mod common;

use alphadome_e2e::mock::Recorded;
use common::*;
use serde_json::Value;

const MODEL: &str = "text-embedding-3-small";
/// One of the seed's phrasings of "Do you repair instruments?".
const REPAIR_TEXT: &str = "can you fix my guitar";
const REPAIR_ANSWER: &str = "Yes, we repair guitars, keyboards, drums and amplifiers. Bring the instrument in for a free assessment.";

fn turn_on(d: &Deployment, tenant: &str) {
    d.db()
        .execute(
            "UPDATE alphadome.bot_control_settings SET embedding_model = $2 WHERE bot_tenant_id = $1::text::uuid",
            &[&tenant, &MODEL],
        )
        .unwrap();
}

/// The tenant's stored vectors, and the texts its FAQ has now.
fn embedded(d: &Deployment, tenant: &str) -> (i64, i64) {
    let row = d
        .db()
        .query_one(
            "SELECT (SELECT count(*) FROM alphadome.faq_embeddings e WHERE e.bot_tenant_id = $1::text::uuid),
                    (SELECT count(*) FROM alphadome._faq_texts($1::text::uuid))",
            &[&tenant],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn inputs(request: &Recorded) -> Vec<String> {
    request.body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn checked(requests: Vec<Recorded>) -> Vec<Recorded> {
    for r in &requests {
        assert!(r.violations.is_empty(), "{:?}: {}", r.violations, r.body);
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {KASSANGAS_AI_KEY}").as_str())
        );
    }
    requests
}

/// The inbound message's decision and the reply.generate job's result.
fn outcome(d: &Deployment, wamid: &str) -> (String, Value) {
    let row = d
        .db()
        .query_one(
            "SELECT m.decision::text, o.result FROM alphadome.messages m
               JOIN alphadome.outbox o ON o.kind = 'reply.generate'
                AND (o.payload ->> 'inbound_message_id')::bigint = m.id
              WHERE m.wamid = $1",
            &[&wamid],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn reply_to(d: &Deployment, wamid: &str) -> String {
    d.db()
        .query_one(
            "SELECT o.payload ->> 'text' FROM alphadome.messages m
               JOIN alphadome.outbox o ON o.kind = 'reply.send'
                AND (o.payload ->> 'inbound_message_id')::bigint = m.id
              WHERE m.wamid = $1",
            &[&wamid],
        )
        .unwrap()
        .get(0)
}

/// The lexical ranking's best entry for a message: its question and score.
fn lexical_best(d: &Deployment, message: &str) -> Option<(String, f32)> {
    d.db()
        .query_opt(
            "SELECT question, score FROM alphadome.match_faq($1::text::uuid, $2, 1)",
            &[&d.kassangas, &message],
        )
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

#[test]
fn the_faq_is_embedded_when_it_changes_and_never_without_a_key() {
    let d = Deployment::start(&[]);
    // Off by default: nothing embedded.
    d.wait_until_idle(LONG);
    assert!(d.llm.embeddings().is_empty());
    turn_on(&d, &d.kassangas);
    d.wait_until_idle(LONG);
    let (vectors, texts) = embedded(&d, &d.kassangas);
    assert!(texts > 20, "the seed's questions and phrasings: {texts}");
    assert_eq!(vectors, texts, "every question and phrasing has its vector");
    let calls = checked(d.llm.embeddings());
    assert_eq!(calls.len(), 1, "one call for the whole FAQ");
    assert_eq!(calls[0].body["model"], MODEL);
    assert_eq!(inputs(&calls[0]).len() as i64, texts);

    // A phrasing added: only it is embedded.
    d.db()
        .execute(
            "UPDATE alphadome.bot_training_data SET phrasings = phrasings || 'zorble my flurbophone'::text
              WHERE bot_tenant_id = $1::text::uuid AND question = 'Do you repair instruments?'",
            &[&d.kassangas],
        )
        .unwrap();
    d.wait_until_idle(LONG);
    let calls = checked(d.llm.embeddings());
    assert_eq!(calls.len(), 2);
    assert_eq!(inputs(&calls[1]), ["zorble my flurbophone"]);
    assert_eq!(embedded(&d, &d.kassangas), (texts + 1, texts + 1));

    // A phrasing removed: its vector goes, and nothing is embedded.
    d.db()
        .execute(
            "UPDATE alphadome.bot_training_data SET phrasings = array_remove(phrasings, $2)
              WHERE bot_tenant_id = $1::text::uuid AND question = 'Do you repair instruments?'",
            &[&d.kassangas, &REPAIR_TEXT],
        )
        .unwrap();
    d.wait_until_idle(LONG);
    assert_eq!(d.llm.embeddings().len(), 2, "nothing new to embed");
    assert_eq!(embedded(&d, &d.kassangas), (texts, texts));

    // The other shop has no LLM key: semantic matching on and an FAQ changed, yet no
    // embeddings job and no call, for its FAQ or for a message left to the LLM.
    turn_on(&d, &d.other);
    d.db()
        .execute(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             VALUES ($1::text::uuid, 'faq', 'Do you sell violins?', 'Yes, from KES 15,000.')",
            &[&d.other],
        )
        .unwrap();
    let (status, _) = d.post_text(
        OTHER_NUMBER,
        "254711000222",
        "Zorble flurbophone?",
        "wamid.nokey",
    );
    assert_eq!(status, 200);
    d.wait_for(
        "the other shop's answer",
        "SELECT EXISTS (SELECT FROM alphadome.outbox WHERE kind = 'reply.send' AND status = 'done'
                         AND payload ->> 'text' = 'Our violins start at KES 15,000.')",
        LONG,
    );
    d.wait_until_idle(LONG);
    assert_eq!(
        d.llm.embeddings().len(),
        2,
        "no embeddings call without a key"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM alphadome.outbox WHERE kind = 'faq.embed' AND bot_tenant_id <> (SELECT id FROM alphadome.bot_tenants WHERE slug = 'kassangas')"),
        0
    );
    assert_eq!(embedded(&d, &d.other).0, 0);
    let (decision, result) = outcome(&d, "wamid.nokey");
    assert_eq!(decision, "llm");
    assert!(result.get("semantic").is_none(), "{result}");
    d.assert_no_secret_in_logs();
}

#[test]
fn a_semantic_match_answers_what_lexical_matching_missed_unless_a_lexical_match_contradicts_it() {
    let d = Deployment::start(&[]);
    turn_on(&d, &d.kassangas);
    d.wait_until_idle(LONG);
    let first = d.llm.embeddings().len();

    // Words no lexicon has: the lexical matcher leaves the message to the LLM; the model
    // places it next to a phrasing of the repair entry.
    let missed = "Is anyone there able to zorble my flurbophone?";
    let lexical = lexical_best(&d, missed);
    assert!(
        lexical.as_ref().is_none_or(|(_, score)| *score < 0.3),
        "the premise: no real lexical match ({lexical:?})"
    );
    d.llm.embed_as(missed, REPAIR_TEXT);
    d.post(&text_now("254711000333", missed, "wamid.missed"));
    d.wait_for(
        "the semantic answer",
        "SELECT EXISTS (SELECT FROM alphadome.outbox WHERE kind = 'reply.send' AND status = 'done')",
        LONG,
    );
    let (decision, result) = outcome(&d, "wamid.missed");
    assert_eq!(decision, "faq_semantic", "{result}");
    assert_eq!(reply_to(&d, "wamid.missed"), REPAIR_ANSWER);
    assert_eq!(result["semantic"]["answered"], true, "{result}");
    assert_eq!(result["semantic"]["score"], 1.0);
    assert!(
        result["semantic"]["runner_up"].as_f64().unwrap() <= 0.9,
        "{result}"
    );
    assert!(
        d.llm.completions().is_empty(),
        "the chat model is not called"
    );
    let calls = checked(d.llm.embeddings());
    assert_eq!(calls.len(), first + 1);
    assert_eq!(inputs(&calls[first]), [missed]);
    let sent: Vec<String> = d
        .meta
        .sends()
        .iter()
        .map(|s| s.body["text"]["body"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(sent, [REPAIR_ANSWER]);

    // The lexical matcher in doubt (only a perfect score answers now) about a message whose
    // words are the hours entry's, which the model places next to the repair entry: the
    // lexical match contradicts the semantic one, and the LLM answers.
    d.db()
        .execute(
            "UPDATE alphadome.bot_control_settings SET faq_confidence = 1 WHERE bot_tenant_id = $1::text::uuid",
            &[&d.kassangas],
        )
        .unwrap();
    let contradicted = "When are you open on Sunday evenings?";
    let (question, score) = lexical_best(&d, contradicted).expect("a lexical match");
    assert!(
        question == "What are your opening hours?" && (0.5..1.0).contains(&score),
        "the premise: a real lexical match of another entry, not an answer ({question}: {score})"
    );
    d.llm.embed_as(contradicted, REPAIR_TEXT);
    d.post(&text_now(
        "254711000444",
        contradicted,
        "wamid.contradicted",
    ));
    d.wait_for(
        "the LLM's answer",
        "SELECT EXISTS (SELECT FROM alphadome.outbox WHERE kind = 'reply.send'
                         AND payload ->> 'text' = 'Our violins start at KES 15,000.')",
        LONG,
    );
    let (decision, result) = outcome(&d, "wamid.contradicted");
    assert_eq!(decision, "llm");
    assert_eq!(result["semantic"]["answered"], false, "{result}");
    assert_eq!(result["semantic"]["reason"], "lexical");
    assert_eq!(d.llm.completions().len(), 1);
    assert_eq!(d.llm.embeddings().len(), first + 2);
    d.assert_no_secret_in_logs();
}
