//! reply.generate: the LLM's answer; with the customer's photo, fetched for this call only,
//! when there is one (its size and checksum go back with the result, never its bytes). With
//! semantic FAQ matching on, the FAQ is asked first (embed.rs): an entry that answers the
//! message by its meaning is sent instead, and the chat model is not called.
use super::embed;
use super::outbound::Outbound;
use crate::clients::llm;
use crate::clients::media::Purpose;
use crate::clients::{Class, Failure};
use crate::contract::{LlmCall, Media, WhatsApp};
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use std::borrow::Cow;

pub async fn answer(
    out: &Outbound,
    pool: &Pool,
    job: i64,
    call: &LlmCall,
    whatsapp: Option<&WhatsApp>,
    media: Option<&Media>,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(json!({"content": "(dry run: the AI would answer here)"}));
    }
    // Semantic FAQ matching: claim_jobs names it only with a key and without a photo.
    let mut semantic = Value::Null;
    if let (Some(asked), Some(key), None) = (&call.semantic, &call.api_key, media) {
        match embed::decide(out, pool, job, call.base_url.as_deref(), key, asked).await {
            Ok(mut decision) if decision["answered"] == true => {
                let content = decision["answer"].take();
                return Ok(json!({"content": content, "semantic": decision}));
            }
            Ok(decision) => semantic = decision,
            Err(why) => {
                tracing::warn!(job, error = %why, "semantic FAQ matching failed; the LLM answers");
                semantic = json!({"answered": false, "reason": "error", "error": why});
            }
        }
    }
    let mut request = Cow::Borrowed(&call.request);
    let mut facts = Value::Null;
    if let Some(media) = media {
        let whatsapp = token_for_the_photo(whatsapp)?;
        let photo = out
            .timed_meta(out.meta.fetch_media(whatsapp, media, Purpose::Image))
            .await?;
        request = Cow::Owned(llm::with_image(&call.request, &photo));
        facts = photo.facts();
    }
    let base = out.llm_base(call.base_url.as_deref());
    let key = call.api_key.as_ref().map(|k| k.expose());
    let (content, usage) = out.timed_llm(out.llm.complete(base, key, &request)).await?;
    // The model asked for, with its token counts: usage_cost prices them by model.
    let model = call.request.get("model").cloned().unwrap_or(Value::Null);
    let mut result = json!({"content": content, "usage": usage, "model": model, "media": facts});
    if !semantic.is_null() {
        result["semantic"] = semantic;
    }
    Ok(result)
}

/// A photo is fetched with the tenant's token; a job naming one without it cannot succeed.
fn token_for_the_photo(whatsapp: Option<&WhatsApp>) -> Result<&WhatsApp, Failure> {
    whatsapp.ok_or_else(|| {
        Failure::new(
            Class::Permanent,
            "the job names a photo but no token to fetch it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Secret;

    #[test]
    fn a_photo_without_a_token_fails_for_good() {
        let failure = token_for_the_photo(None).unwrap_err();
        assert_eq!(failure.class, Class::Permanent);
        assert!(failure.message.contains("no token"), "{}", failure.message);
        let whatsapp = WhatsApp {
            phone_number_id: "1098".into(),
            access_token: Secret::new("EAAtest-x".into()),
        };
        let found = token_for_the_photo(Some(&whatsapp)).unwrap();
        assert_eq!(found.phone_number_id, "1098");
    }
}
