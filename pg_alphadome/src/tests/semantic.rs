//! Semantic FAQ matching (semantic.sql, src/faq/semantic.rs): faq.embed jobs queued on change
//! only with a model and a key, claimed with the texts to embed, their vectors kept; the
//! decision for a message left to the LLM, and its completion as an FAQ answer.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::{json, Value};

    const HOURS: &str = "What are your opening hours?";
    const REPAIR: &str = "Do you repair instruments?";

    /// A shop on number 1001 with a key and one on 1002 without; two entries each, semantic
    /// matching on for both.
    fn shops() -> (String, String) {
        let a = tenant("shop-a", "0711000001", "1001", TOKEN_A, Some(AI_KEY_A));
        let b = tenant("shop-b", "0711000002", "1002", TOKEN_B, None);
        for t in [&a, &b] {
            run(
                "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, phrasings) VALUES
                   ($1::uuid, 'faq', $2, 'Monday-Saturday 9 AM - 6 PM', '{}'),
                   ($1::uuid, 'faq', $3, 'Yes, bring it in.', '{\"can you fix my guitar\"}')",
                &[t.as_str().into(), HOURS.into(), REPAIR.into()],
            );
            run(
                "UPDATE alphadome.bot_control_settings SET embedding_model = 'emb-1' WHERE bot_tenant_id = $1::uuid",
                &[t.as_str().into()],
            );
        }
        (a, b)
    }

    fn embed_jobs(tenant: &str) -> i64 {
        one::<i64>(
            "SELECT count(*) FROM alphadome.outbox WHERE bot_tenant_id = $1::uuid AND kind = 'faq.embed' AND status = 'queued'",
            &[tenant.into()],
        )
        .unwrap()
    }

    fn claim(kind: &str) -> Vec<Value> {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT j FROM alphadome.claim_jobs('w', 10, 60, ARRAY[$1]) j",
                    None,
                    &[kind.into()],
                )
                .unwrap()
                .map(|r| r.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
                .collect()
        })
    }

    fn complete(job: &Value, result: Value) {
        run(
            "SELECT alphadome.complete_job($1, $2::jsonb)",
            &[
                job["id"].as_i64().unwrap().into(),
                result.to_string().as_str().into(),
            ],
        );
    }

    fn entry(tenant: &str, question: &str) -> i64 {
        one::<i64>(
            "SELECT id FROM alphadome.bot_training_data WHERE bot_tenant_id = $1::uuid AND question = $2",
            &[tenant.into(), question.into()],
        )
        .unwrap()
    }

    /// Stores a vector for each of the tenant's texts: the hours entry's (1, 0, 0), the repair
    /// entry's question (0, 1, 0) and phrasing (0, 0, 1).
    fn vectors(tenant: &str) {
        run(
            "INSERT INTO alphadome.faq_embeddings (bot_tenant_id, entry_id, text_sha256, model, embedding)
             SELECT $1::uuid, f.entry_id, f.text_sha256, 'emb-1',
                    CASE WHEN f.text = $2 THEN '{1,0,0}' WHEN f.text = $3 THEN '{0,1,0}' ELSE '{0,0,1}' END::real[]
               FROM alphadome._faq_texts($1::uuid) f",
            &[tenant.into(), HOURS.into(), REPAIR.into()],
        );
    }

    /// A message to the shop on `number`, and the reply.generate it makes, claimed.
    fn left_to_the_llm(number: &str, text: &str, wamid: &str) -> Value {
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook_with(
                number,
                "254700000001",
                wamid,
                json!({"type": "text", "text": {"body": text}}),
            )
            .as_str()
            .into()],
        );
        let mut jobs = claim("reply.generate");
        assert_eq!(jobs.len(), 1, "{text}: left to the LLM");
        jobs.remove(0)
    }

    fn answer(job: &Value, embedding: &[f32]) -> Value {
        one::<pgrx::JsonB>(
            "SELECT alphadome.semantic_faq_answer($1, $2)",
            &[
                job["id"].as_i64().unwrap().into(),
                embedding.to_vec().into(),
            ],
        )
        .unwrap()
        .0
    }

    #[pg_test]
    fn a_change_of_the_faq_queues_one_embed_job_and_none_without_a_key() {
        let (a, b) = shops();
        assert_eq!((embed_jobs(&a), embed_jobs(&b)), (1, 0));
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer)
             VALUES ($1::uuid, 'faq', 'Do you deliver?', 'Yes.'), ($2::uuid, 'faq', 'Do you deliver?', 'Yes.')",
            &[a.as_str().into(), b.as_str().into()],
        );
        assert_eq!(
            (embed_jobs(&a), embed_jobs(&b)),
            (1, 0),
            "one waiting job embeds every change"
        );
        // Off: no job at a change.
        run("DELETE FROM alphadome.outbox", &[]);
        run(
            "UPDATE alphadome.bot_control_settings SET embedding_model = NULL WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        run(
            "UPDATE alphadome.bot_training_data SET answer = 'No.' WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        assert_eq!(embed_jobs(&a), 0);
    }

    #[pg_test]
    fn an_embed_job_carries_the_missing_texts_and_keeps_the_vectors_of_current_ones() {
        let (a, b) = shops();
        // shop-b's job, queued by hand, names nothing to embed and no key.
        run(
            "SELECT alphadome._enqueue($1::uuid, 'faq.embed', '{}')",
            &[b.as_str().into()],
        );
        let jobs = claim("faq.embed");
        assert_eq!(jobs.len(), 2);
        let (job_a, job_b): (Vec<&Value>, Vec<&Value>) =
            jobs.iter().partition(|j| j["tenant_id"] == json!(a));
        let (job_a, job_b) = (job_a[0], job_b[0]);
        assert_eq!(job_b["embed"]["texts"], json!([]));
        assert_eq!(job_b["llm"]["api_key"], Value::Null);
        assert_eq!(job_a["llm"]["api_key"], AI_KEY_A);
        assert_eq!(job_a["embed"]["model"], "emb-1");
        let mut texts: Vec<&str> = job_a["embed"]["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap())
            .collect();
        texts.sort();
        assert_eq!(texts, [REPAIR, HOURS, "can you fix my guitar"]);
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM alphadome.credential_audit
                  WHERE bot_tenant_id = $1::uuid AND credential = 'ai_api_key' AND purpose LIKE '%faq.embed%'",
                &[a.as_str().into()],
            ),
            Some(1),
            "the key's use is audited"
        );
        let vectors: Vec<Value> = job_a["embed"]["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| json!({"entry_id": t["entry_id"], "sha256": t["sha256"], "embedding": [0.5, 0.5]}))
            .collect();
        complete(job_a, json!({"model": "emb-1", "vectors": vectors}));
        complete(job_b, json!({"model": null, "vectors": []}));
        let stored = || {
            one::<i64>(
                "SELECT count(*) FROM alphadome.faq_embeddings WHERE bot_tenant_id = $1::uuid",
                &[a.as_str().into()],
            )
            .unwrap()
        };
        assert_eq!(stored(), 3);
        // A phrasing replaced: the new one is missing, the old one's vector goes at the store.
        run(
            "UPDATE alphadome.bot_training_data SET phrasings = '{\"my drum is broken\"}'
              WHERE bot_tenant_id = $1::uuid AND question = $2",
            &[a.as_str().into(), REPAIR.into()],
        );
        let job = claim("faq.embed").remove(0);
        let texts = job["embed"]["texts"].as_array().unwrap().clone();
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0]["text"], "my drum is broken");
        let vector = json!([{"entry_id": texts[0]["entry_id"], "sha256": texts[0]["sha256"], "embedding": [1, 0]}]);
        complete(&job, json!({"model": "emb-1", "vectors": vector}));
        assert_eq!(stored(), 3);
        assert_eq!(embed_jobs(&a), 0, "nothing is left to embed");
    }

    #[pg_test]
    fn a_clear_semantic_match_answers_as_the_faq_and_a_lexical_match_of_another_entry_vetoes() {
        let (a, _) = shops();
        vectors(&a);
        let job = left_to_the_llm("1001", "zorble my flurbophone", "w.1");
        assert_eq!(
            job["llm"]["semantic"],
            json!({"model": "emb-1", "text": "zorble my flurbophone"}),
            "the message to embed, with a key"
        );
        // Near the repair entry's phrasing, far from the hours.
        let decision = answer(&job, &[0.1, 0.2, 0.95]);
        assert_eq!(decision["answered"], true, "{decision}");
        assert_eq!(decision["entry_id"], entry(&a, REPAIR));
        assert_eq!(decision["answer"], "Yes, bring it in.");
        // Between the two entries: unclear.
        let unclear = answer(&job, &[0.7, 0.7, 0.1]);
        assert_eq!(
            (unclear["answered"].clone(), unclear["reason"].clone()),
            (json!(false), json!("unclear"))
        );
        complete(
            &job,
            json!({"content": decision["answer"], "semantic": decision}),
        );
        assert_eq!(
            one::<String>(
                "SELECT decision::text FROM alphadome.messages WHERE wamid = 'w.1'",
                &[]
            ),
            Some("faq_semantic".into())
        );
        let send = one::<pgrx::JsonB>(
            "SELECT payload FROM alphadome.outbox WHERE kind = 'reply.send'",
            &[],
        )
        .unwrap()
        .0;
        assert_eq!(
            (
                send["text"].clone(),
                send["generated"].clone(),
                send["faq_entry_id"].clone()
            ),
            (
                json!("Yes, bring it in."),
                json!(false),
                json!(entry(&a, REPAIR))
            )
        );
        // The hours entry's words, in doubt (only a perfect score answers now), placed by the
        // model next to the repair entry: the lexical match vetoes.
        run(
            "UPDATE alphadome.bot_control_settings SET faq_confidence = 1 WHERE bot_tenant_id = $1::uuid",
            &[a.as_str().into()],
        );
        let job = left_to_the_llm("1001", "what are your opening hours on sunday", "w.2");
        let vetoed = answer(&job, &[0.0, 0.0, 1.0]);
        assert_eq!(
            (vetoed["answered"].clone(), vetoed["reason"].clone()),
            (json!(false), json!("lexical")),
            "{vetoed}"
        );
        // Without a key: the claim names no message to embed.
        let job = left_to_the_llm("1002", "zorble my flurbophone", "w.3");
        assert!(job["llm"].get("semantic").is_none(), "{job}");
    }
}
