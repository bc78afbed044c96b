//! A voice note's transcript, decided like a typed question (decide.rs) when the relay brings
//! it: queue.sql's complete_job calls _plan_transcript and carries the plan out. The hour's
//! budget is not asked again: the voice note took its reply from it when it was recorded.
use super::decide::{self, Conversation, Inbound};
use super::facts::TenantFacts;
use super::{read_tenant, statements, tenant_cache};
use crate::errors::raise;
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use pgrx::{JsonB, PgSqlErrorCode};
use serde_json::{json, Value};

/// The conversation of one of the tenant's messages, and the clock hour.
const CONVERSATION: &str = "
    SELECT c.customer_key::text, c.opted_out_at IS NOT NULL, c.handoff_at IS NOT NULL,
           t.whatsapp_phone_number_id,
           to_char(date_trunc('hour', now()), 'YYYY-MM-DD\"T\"HH24'), c.customer_name,
           -- Through to_jsonb: the column is 0.3.0's, and a voice note is rare enough.
           (to_jsonb(c) ->> 'waiting_since') IS NOT NULL
      FROM alphadome.messages m
      JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
      JOIN alphadome.bot_tenants t ON t.id = m.bot_tenant_id
     WHERE m.bot_tenant_id = $1 AND m.id = $2";

/// The plan for a voice note's transcript: {"decision": ..., "reply": {"kind", "text"} or null,
/// "alert": {"kind", "text", "key", "due"} or null}. Internal (complete_job's).
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome._plan_transcript(tenant_id uuid, message_id bigint, transcript text) RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', '_plan_transcript_wrapper';
"#)]
fn _plan_transcript(
    tenant_id: Option<pgrx::Uuid>,
    message_id: Option<i64>,
    transcript: Option<&str>,
) -> JsonB {
    let (Some(tenant_id), Some(message_id)) = (tenant_id, message_id) else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "_plan_transcript: tenant_id and message_id are required",
        );
    };
    let planned = statements::with(|prepared| {
        Spi::connect_mut(|client| -> SpiResult<Option<Value>> {
            let found = client.select(
                CONVERSATION,
                Some(1),
                &[tenant_id.into(), message_id.into()],
            )?;
            let Some(row) = found.into_iter().next() else {
                return Ok(None);
            };
            let conversation = Conversation {
                customer_key: row.get(1)?.unwrap_or_default(),
                customer_name: row.get(6)?,
                opted_out: row.get(2)?.unwrap_or(false),
                handed_off: row.get(3)?.unwrap_or(false),
                waiting: row.get(7)?.unwrap_or(false),
            };
            let phone_number_id: String = row.get(4)?.unwrap_or_default();
            let hour: String = row.get(5)?.unwrap_or_default();
            let tenant = tenant_cache::tenant(&phone_number_id, || {
                read_tenant(client, prepared, &phone_number_id)
            })?;
            let Some(tenant) = tenant.filter(|t| t.id == tenant_id) else {
                return Ok(None);
            };
            let mut facts = TenantFacts {
                client,
                prepared,
                tenant: &tenant,
                replies_this_hour: (0, hour),
            };
            // No media: what it held is the transcript now (an empty one is not heard again).
            let heard = Inbound {
                kind: "audio",
                text: transcript,
                has_media: false,
                choice: None,
            };
            let plan = decide::plan_reply(&tenant.settings, &conversation, &heard, &mut facts);
            Ok(Some(plan_json(&plan)))
        })
    });
    match planned {
        Ok(Some(plan)) => JsonB(plan),
        Ok(None) => raise(
            PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            format!("_plan_transcript: tenant {tenant_id} has no message {message_id}"),
        ),
        Err(error) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("_plan_transcript: {error}"),
        ),
    }
}

fn plan_json(plan: &decide::Plan) -> Value {
    json!({
        "decision": plan.verdict.as_str(),
        "reply": plan.reply.as_ref().map(|r| json!({"kind": r.kind(), "text": r.text()})),
        "alert": plan.alert.as_ref().map(|a| json!({"kind": a.kind, "text": a.text, "key": a.key, "due": a.due})),
    })
}
