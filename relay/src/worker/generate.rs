//! reply.generate: the LLM's answer; with the customer's photo, fetched for this call only,
//! when there is one (its size and checksum go back with the result, never its bytes).
use super::outbound::Outbound;
use crate::clients::llm;
use crate::clients::media::Purpose;
use crate::clients::{Class, Failure};
use crate::contract::{LlmCall, Media, WhatsApp};
use serde_json::{json, Value};
use std::borrow::Cow;

pub async fn answer(
    out: &Outbound,
    call: &LlmCall,
    whatsapp: Option<&WhatsApp>,
    media: Option<&Media>,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(json!({"content": "(dry run: the AI would answer here)"}));
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
    Ok(json!({"content": content, "usage": usage, "model": model, "media": facts}))
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
