//! Messages beyond text: captions are questions, voice notes are transcribed and then decided
//! like text, photos go to the LLM when the tenant allows it, places and orders get the
//! tenant's reply for their type; what the webhook says of the media is kept, never the bytes.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::{json, Value};

    const NUMBER: &str = "106540352242922";
    const CUSTOMER: &str = "254711000001";
    const VOICE_NOTE: &str = "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=";

    fn shop() -> String {
        let t = tenant("shop", "0702245555", NUMBER, TOKEN_A, Some(AI_KEY_A));
        run(
            "INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, phrasings) VALUES
               ($1::uuid, 'faq', 'What are your opening hours?', 'Monday-Saturday 9 AM - 6 PM', '{mnafungua saa ngapi}')",
            &[t.as_str().into()],
        );
        t
    }

    fn send(wamid: &str, message: Value) {
        run(
            "SELECT alphadome.ingest_webhook($1::jsonb)",
            &[webhook_with(NUMBER, CUSTOMER, wamid, message)
                .as_str()
                .into()],
        );
    }

    fn voice_note(wamid: &str) {
        send(
            wamid,
            json!({"type": "audio", "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": VOICE_NOTE,
                                             "id": "1234567890987654321", "voice": true}}),
        );
    }

    /// (decision, transcript, media) of a message.
    fn recorded(wamid: &str) -> (Option<String>, Option<String>, Option<Value>) {
        Spi::connect(|c| {
            let row = c
                .select(
                    "SELECT decision::text, transcript, media FROM alphadome.messages WHERE wamid = $1",
                    None,
                    &[wamid.into()],
                )
                .unwrap()
                .first();
            (
                row.get(1).unwrap(),
                row.get(2).unwrap(),
                row.get::<pgrx::JsonB>(3).unwrap().map(|j| j.0),
            )
        })
    }

    /// (kind, payload) of every job, oldest first.
    fn jobs() -> Vec<(String, Value)> {
        Spi::connect(|c| {
            c.select(
                "SELECT kind::text, payload FROM alphadome.outbox ORDER BY id",
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get(1).unwrap().unwrap(),
                    r.get::<pgrx::JsonB>(2).unwrap().unwrap().0,
                )
            })
            .collect()
        })
    }

    fn claim() -> Vec<Value> {
        Spi::connect_mut(|c| {
            c.update(
                "SELECT alphadome.claim_jobs('test-worker', 10, 60)",
                None,
                &[],
            )
            .unwrap()
            .map(|r| r.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
            .collect()
        })
    }

    fn complete(job: i64, result: Value) {
        run(
            "SELECT alphadome.complete_job($1, $2::jsonb)",
            &[job.into(), result.to_string().as_str().into()],
        );
    }

    #[pg_test]
    fn a_caption_and_a_chosen_button_are_questions() {
        shop();
        send(
            "w.photo",
            json!({"type": "image", "image": {"caption": "Mnafungua saa ngapi?", "mime_type": "image/jpeg",
                                             "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "1003383421387256"}}),
        );
        send(
            "w.button",
            json!({"type": "interactive", "interactive": {"type": "button_reply",
                   "button_reply": {"id": "hours", "title": "Opening hours"}}}),
        );
        assert_eq!(recorded("w.photo").0.as_deref(), Some("faq"));
        assert_eq!(recorded("w.button").0.as_deref(), Some("faq"));
        let sent: Vec<String> = jobs()
            .into_iter()
            .map(|(_, p)| p["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            sent,
            ["Monday-Saturday 9 AM - 6 PM", "Monday-Saturday 9 AM - 6 PM"]
        );
        let media = recorded("w.photo").2.unwrap();
        assert_eq!(
            media,
            json!({"id": "1003383421387256", "mime_type": "image/jpeg", "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="}),
            "what the webhook said of the photo is kept, the caption stays the body"
        );
    }

    #[pg_test]
    fn a_voice_note_is_transcribed_then_answered_from_the_faq_without_the_llm() {
        shop();
        voice_note("w.voice");
        assert_eq!(recorded("w.voice").0.as_deref(), Some("transcribe"));
        let queued = jobs();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0, "media.transcribe");
        assert_eq!(queued[0].1["media"]["id"], "1234567890987654321");
        assert_eq!(queued[0].1["media"]["voice"], true);
        let claimed = claim();
        assert_eq!(claimed[0]["kind"], "media.transcribe");
        assert_eq!(claimed[0]["llm"]["model"], "whisper-1");
        assert_eq!(claimed[0]["llm"]["api_key"], AI_KEY_A);
        assert_eq!(
            claimed[0]["whatsapp"]["access_token"], TOKEN_A,
            "the token fetches the voice note"
        );
        assert_eq!(claimed[0]["whatsapp"]["phone_number_id"], NUMBER);
        let audited = one::<i64>(
            "SELECT count(*) FROM alphadome.credential_audit WHERE job_id = $1",
            &[claimed[0]["id"].as_i64().unwrap().into()],
        );
        assert_eq!(
            audited,
            Some(2),
            "both credentials' decryptions are audited"
        );
        complete(
            claimed[0]["id"].as_i64().unwrap(),
            json!({"transcript": " Mnafungua saa ngapi? ", "media": {"size": 5210, "sha256_matched": true}}),
        );
        let (decision, transcript, media) = recorded("w.voice");
        assert_eq!(decision.as_deref(), Some("faq"));
        assert_eq!(transcript.as_deref(), Some("Mnafungua saa ngapi?"));
        let media = media.unwrap();
        assert_eq!(
            (media["size"].clone(), media["sha256"].clone()),
            (json!(5210), json!(VOICE_NOTE))
        );
        let sends: Vec<(String, Value)> = jobs()
            .into_iter()
            .filter(|(k, _)| k == "reply.send")
            .collect();
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].1["text"], "Monday-Saturday 9 AM - 6 PM");
        assert_eq!(sends[0].1["to"], CUSTOMER);
        assert!(
            sends[0].1.get("media").is_none(),
            "the reply carries no media"
        );
        let counted = one::<i64>(
            "SELECT sum(replies)::bigint FROM alphadome.reply_counters",
            &[],
        );
        assert_eq!(
            counted,
            Some(1),
            "one voice note, one reply in the hour's budget"
        );
    }

    #[pg_test]
    fn a_transcript_goes_through_the_decision_list_like_text() {
        shop();
        voice_note("w.v1");
        voice_note("w.v2");
        let claimed = claim();
        complete(
            claimed[0]["id"].as_i64().unwrap(),
            json!({"transcript": "Do you sell violins?"}),
        );
        complete(
            claimed[1]["id"].as_i64().unwrap(),
            json!({"transcript": "STOP"}),
        );
        assert_eq!(recorded("w.v1").0.as_deref(), Some("llm"));
        assert_eq!(recorded("w.v2").0.as_deref(), Some("opt_out"));
        let kinds: Vec<String> = jobs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                "media.transcribe",
                "media.transcribe",
                "reply.generate",
                "reply.send"
            ]
        );
        let generate = &jobs()[2].1;
        assert_eq!(
            generate["text"], "Do you sell violins?",
            "the LLM gets the transcript"
        );
        assert_eq!(
            one::<bool>(
                "SELECT opted_out_at IS NOT NULL FROM alphadome.conversations",
                &[]
            ),
            Some(true)
        );
        // A silent voice note is not transcribed again: the fallback.
        run("DELETE FROM alphadome.conversations c WHERE true; DELETE FROM alphadome.outbox WHERE true", &[]);
        voice_note("w.v3");
        let claimed = claim();
        complete(
            claimed[0]["id"].as_i64().unwrap(),
            json!({"transcript": ""}),
        );
        assert_eq!(recorded("w.v3").0.as_deref(), Some("fallback"));
    }

    #[pg_test]
    fn a_voice_note_that_cannot_be_read_answers_with_the_fallback_and_raises_an_alert() {
        shop();
        voice_note("w.bad");
        let claimed = claim();
        run(
            "SELECT alphadome.fail_job($1, $2::jsonb, NULL)",
            &[
                claimed[0]["id"].as_i64().unwrap().into(),
                r#"{"class": "permanent", "message": "the voice note is 20000000 bytes, over the 16 MB limit"}"#.into(),
            ],
        );
        let (decision, _, media) = recorded("w.bad");
        assert_eq!(decision.as_deref(), Some("fallback"));
        assert_eq!(
            media.unwrap()["error"]["message"],
            "the voice note is 20000000 bytes, over the 16 MB limit"
        );
        let sends: Vec<Value> = jobs()
            .into_iter()
            .filter(|(k, _)| k == "reply.send")
            .map(|(_, p)| p)
            .collect();
        assert_eq!(sends.len(), 1);
        assert!(sends[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Thanks for your message!"));
        let alert =
            one::<String>("SELECT kind || ': ' || text FROM alphadome.alerts", &[]).unwrap();
        assert!(alert.starts_with("media_failed: ") && alert.contains(": a voice note from customer +254711000001 could not be read (the voice note is"), "{alert}");
    }

    #[pg_test]
    fn voice_notes_wait_while_the_token_is_refused() {
        let t = shop();
        voice_note("w.wait");
        run(
            "UPDATE alphadome.bot_tenants SET credential_status = 'needs_reauth' WHERE id = $1::uuid",
            &[t.as_str().into()],
        );
        assert!(
            claim().is_empty(),
            "fetching the voice note needs the token"
        );
    }

    #[pg_test]
    fn without_transcription_a_voice_note_gets_the_reply_for_audio_or_the_fallback() {
        let t = shop();
        run(
            "UPDATE alphadome.bot_control_settings SET transcription_model = NULL,
                    type_replies = '{\"audio\": \"Please type your question: we cannot listen to voice notes yet.\"}'
              WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        voice_note("w.deaf");
        assert_eq!(recorded("w.deaf").0.as_deref(), Some("type_reply"));
        assert_eq!(
            jobs()[0].1["text"],
            "Please type your question: we cannot listen to voice notes yet."
        );
    }

    #[pg_test]
    fn a_photo_without_a_caption_goes_to_the_llm_only_when_the_tenant_allows_it() {
        let t = shop();
        let photo = json!({"type": "image", "image": {"mime_type": "image/jpeg", "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=",
                                                    "id": "1003383421387256"}});
        send("w.p1", photo.clone());
        assert_eq!(
            recorded("w.p1").0.as_deref(),
            Some("fallback"),
            "off by default"
        );
        run(
            "UPDATE alphadome.bot_control_settings SET enable_media_understanding = true WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        send("w.p2", photo);
        assert_eq!(recorded("w.p2").0.as_deref(), Some("llm"));
        let generate = jobs()
            .into_iter()
            .find(|(k, _)| k == "reply.generate")
            .unwrap()
            .1;
        assert_eq!(generate["media"]["id"], "1003383421387256");
        let claimed: Vec<Value> = claim()
            .into_iter()
            .filter(|j| j["kind"] == "reply.generate")
            .collect();
        assert_eq!(
            claimed[0]["whatsapp"]["access_token"], TOKEN_A,
            "the token fetches the photo"
        );
        assert!(claimed[0]["llm"]["request"]["messages"].is_array());
        complete(
            claimed[0]["id"].as_i64().unwrap(),
            json!({"content": "A lovely guitar!", "media": {"size": 90000}}),
        );
        assert_eq!(recorded("w.p2").2.unwrap()["size"], 90000);
        let reply = jobs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == "reply.send")
            .unwrap()
            .1;
        assert_eq!(reply["text"], "A lovely guitar!");
        assert!(reply.get("media").is_none());
    }

    #[pg_test]
    fn places_contacts_and_orders_get_the_tenants_reply_for_their_type() {
        let t = shop();
        run(
            "UPDATE alphadome.bot_control_settings SET type_replies = '{\"location\": \"Thanks for the pin!\", \"order\": \"Order received!\"}'
              WHERE bot_tenant_id = $1::uuid",
            &[t.as_str().into()],
        );
        send(
            "w.pin",
            json!({"type": "location", "location": {"latitude": -1.28, "longitude": 36.82, "name": "Moi Avenue"}}),
        );
        send(
            "w.order",
            json!({"type": "order", "order": {"catalog_id": "1", "product_items": []}}),
        );
        send(
            "w.card",
            json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Wanjiku"}}]}),
        );
        send(
            "w.odd",
            json!({"type": "unsupported", "errors": [{"code": 131051}]}),
        );
        let decided: Vec<Option<String>> = ["w.pin", "w.order", "w.card", "w.odd"]
            .map(|w| recorded(w).0)
            .to_vec();
        assert_eq!(
            decided,
            [
                Some("type_reply".into()),
                Some("type_reply".into()),
                Some("fallback".into()),
                Some("fallback".into())
            ]
        );
        let texts: Vec<String> = jobs()
            .into_iter()
            .map(|(_, p)| p["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(&texts[..2], ["Thanks for the pin!", "Order received!"]);
    }

    #[pg_test]
    fn type_replies_are_checked_and_refused_by_name() {
        let t = shop();
        let set = |value: &str| {
            one::<String>(
                "SELECT alphadome_test.error_message(format('UPDATE alphadome.bot_control_settings SET type_replies = %L WHERE bot_tenant_id = %L', $1::text, $2::text))",
                &[value.into(), t.as_str().into()],
            )
            .unwrap()
        };
        assert_eq!(set(r#"{"location": "Thanks!"}"#), "ok");
        assert_eq!(
            set(r#"{"sticker": "x"}"#),
            "22023 type_replies: 'sticker' is not a message type the bot answers by type"
        );
        assert_eq!(
            set(r#"{"order": ""}"#),
            "22023 type_replies: the reply for order must be a text of 1 to 4096 characters"
        );
        assert_eq!(
            set(r#"{"order": 5}"#),
            "22023 type_replies: the reply for order must be a text of 1 to 4096 characters"
        );
        assert_eq!(set("[]"), "22023 type_replies must be a JSON object");
    }

    #[pg_test]
    fn media_the_webhook_describes_is_kept_bounded_and_only_when_it_has_an_id() {
        shop();
        send(
            "w.doc",
            json!({"type": "document", "document": {"filename": "quote.pdf", "mime_type": "application/pdf",
                                                    "sha256": "x", "id": "42", "caption": "Is this price right?"}}),
        );
        send(
            "w.noid",
            json!({"type": "image", "image": {"mime_type": "image/jpeg"}}),
        );
        send(
            "w.long",
            json!({"type": "image", "image": {"id": "9".repeat(500)}}),
        );
        assert_eq!(
            recorded("w.doc").2,
            Some(
                json!({"id": "42", "mime_type": "application/pdf", "sha256": "x", "filename": "quote.pdf"})
            )
        );
        assert_eq!(recorded("w.noid").2, None);
        assert_eq!(
            recorded("w.long").2,
            None,
            "an id longer than 128 characters is not Meta's"
        );
    }
}
