//! media.transcribe: a voice note's words, fetched from Meta and transcribed; the bytes are
//! dropped, their size and checksum go back with the transcript.
use super::outbound::Outbound;
use crate::clients::media::Purpose;
use crate::clients::Failure;
use crate::contract::{Media, TranscriptionCall, WhatsApp};
use serde_json::{json, Value};

pub async fn transcript(
    out: &Outbound,
    call: &TranscriptionCall,
    whatsapp: &WhatsApp,
    media: &Media,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Ok(json!({"transcript": "(dry run: the voice note would be transcribed here)"}));
    }
    let voice = out
        .timed_meta(
            out.meta
                .fetch_media(whatsapp, media, Purpose::Transcription),
        )
        .await?;
    let base = out.llm_base(call.base_url.as_deref());
    let key = call.api_key.as_ref().map(|k| k.expose());
    let words = out
        .timed_llm(out.llm.transcribe(base, key, &call.model, &voice))
        .await?;
    Ok(json!({"transcript": words, "media": voice.facts()}))
}
