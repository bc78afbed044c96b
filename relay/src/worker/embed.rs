//! Semantic FAQ matching (optional; sql/semantic.sql): faq.embed, the tenant's FAQ texts
//! embedded; and reply.generate's first step when the tenant has it on, the customer's message
//! embedded and put to the FAQ (semantic_faq_answer) before the chat model is called. Nothing
//! is embedded without the tenant's key.
use super::outbound::Outbound;
use crate::clients::Failure;
use crate::contract::{EmbedCall, EmbedTexts, Secret, SemanticCall};
use deadpool_postgres::Pool;
use serde_json::{json, Value};

/// faq.embed: one embeddings call for the texts the job names; their vectors go back with the
/// result (complete_job stores them).
pub async fn faq(out: &Outbound, call: &EmbedCall, embed: &EmbedTexts) -> Result<Value, Failure> {
    let (Some(model), Some(key)) = (&embed.model, &call.api_key) else {
        return Ok(json!({"model": embed.model, "vectors": [], "skipped": "no model or no key"}));
    };
    if embed.texts.is_empty() || out.dry_run {
        let skipped = if out.dry_run {
            "dry run"
        } else {
            "nothing to embed"
        };
        return Ok(json!({"model": model, "vectors": [], "skipped": skipped}));
    }
    let texts: Vec<&str> = embed.texts.iter().map(|t| t.text.as_str()).collect();
    let base = out.llm_base(call.base_url.as_deref());
    let (vectors, usage) = out
        .timed_llm(out.llm.embed(base, Some(key.expose()), model, &texts))
        .await?;
    let vectors: Vec<Value> = embed
        .texts
        .iter()
        .zip(vectors)
        .map(|(text, vector)| {
            json!({"entry_id": text.entry_id, "sha256": text.sha256, "embedding": vector})
        })
        .collect();
    Ok(json!({"model": model, "vectors": vectors, "usage": usage}))
}

/// The semantic step of a reply.generate: the message embedded, and the FAQ's decision on it
/// ({"answered": true, "answer": ...} when an entry answers it). An error is the step's, not
/// the job's: the caller goes on to the chat model.
pub async fn decide(
    out: &Outbound,
    pool: &Pool,
    job: i64,
    base_url: Option<&str>,
    key: &Secret,
    semantic: &SemanticCall,
) -> Result<Value, String> {
    let base = out.llm_base(base_url);
    let (vectors, usage) = out
        .timed_llm(
            out.llm
                .embed(base, Some(key.expose()), &semantic.model, &[&semantic.text]),
        )
        .await
        .map_err(|f| format!("the embeddings call failed: {}", f.message))?;
    let vector = vectors.into_iter().next().unwrap_or_default();
    let client = pool
        .get()
        .await
        .map_err(|e| format!("no database connection: {e}"))?;
    let row = client
        .query_one(
            "SELECT alphadome.semantic_faq_answer($1, $2)",
            &[&job, &vector],
        )
        .await
        .map_err(|e| alphadome_service::database::describe(&e))?;
    let mut decision: Value = row.get(0);
    decision["usage"] = usage;
    Ok(decision)
}
