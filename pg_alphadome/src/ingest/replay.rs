//! replay(): a tenant's stored inbound messages decided again with today's FAQ, templates and
//! switches, to see what a change would do before customers do; try_message(): one message. Reads only (STABLE: PostgreSQL
//! refuses any write from it), as its caller: row-level security applies.
//!
//! Each message is decided as in a fresh conversation (not opted out, not handed over) and
//! below the hourly limit, so the replay shows what the words and the switches do; business
//! hours are those of the message's own time.
use super::decide::{self, Closed, Conversation, Facts, Inbound, Verdict};
use super::statements::TENANT_BY_ID;
use super::{tenant_from_row, Tenant};
use crate::errors::raise;
use crate::faq;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiResult};
use pgrx::PgSqlErrorCode;
use std::collections::HashMap;

/// The inbound messages of the window, newest first.
const MESSAGES: &str = "
    SELECT m.id, m.created_at, m.message_type, coalesce(m.body, m.transcript), m.decision::text,
           m.media IS NOT NULL
      FROM alphadome.messages m
     WHERE m.bot_tenant_id = $1 AND m.direction = 'inbound' AND m.created_at >= $2 AND m.created_at <= $3
     ORDER BY m.created_at DESC, m.id DESC
     LIMIT $4";

/// The replies sent then, by the message they answered.
const ANSWERS: &str = "
    SELECT (o.payload ->> 'inbound_message_id')::bigint, o.payload ->> 'text'
      FROM alphadome.outbox o
     WHERE o.bot_tenant_id = $1 AND o.kind = 'reply.send' AND o.created_at >= $2
       AND o.payload ? 'inbound_message_id'";

/// When the tenant, closed at $2, opened again.
const CLOSED_AT: &str = "
    SELECT extract(epoch FROM o)::float8
      FROM alphadome.bot_control_settings s,
           LATERAL alphadome._next_opening(s.business_hours, s.holidays, s.timezone, $2) o
     WHERE s.bot_tenant_id = $1 AND o IS DISTINCT FROM $2";

/// An answer's placeholders as the customer would have read them at $4.
const RENDER_AT: &str = "
    SELECT alphadome.render_placeholders($1, $2, alphadome._message_language($3), $4)";

type Replayed = (
    i64,
    TimestampWithTimeZone,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    bool,
);

/// Per message of the window (at most max_messages, 1 to 1000): its text, the decision and
/// answer then, the decision and answer now (NULL: the LLM would write it), and whether they
/// differ; changed ones first, then newest first.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome.replay(since timestamptz, until timestamptz DEFAULT now(),
                                 max_messages integer DEFAULT 200, tenant_id uuid DEFAULT NULL)
    RETURNS TABLE (message_id bigint, received_at timestamptz, message_type text, message text,
                   decision_then text, answer_then text, decision_now text, answer_now text, changed boolean)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'replay_wrapper';
"#)]
#[allow(clippy::type_complexity)]
fn replay(
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    max_messages: Option<i32>,
    tenant_id: Option<pgrx::Uuid>,
) -> TableIterator<
    'static,
    (
        name!(message_id, i64),
        name!(received_at, TimestampWithTimeZone),
        name!(message_type, String),
        name!(message, Option<String>),
        name!(decision_then, Option<String>),
        name!(answer_then, Option<String>),
        name!(decision_now, String),
        name!(answer_now, Option<String>),
        name!(changed, bool),
    ),
> {
    let (Some(since), Some(until)) = (since, until) else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "replay: since and until are required",
        );
    };
    let max = max_messages.unwrap_or(200);
    if !(1..=1000).contains(&max) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "replay: max_messages must be between 1 and 1000",
        );
    }
    let replayed = Spi::connect(|client| -> SpiResult<Vec<Replayed>> {
        let tenant = tenant_in(client, tenant_id, "replay")?;
        let answers: HashMap<i64, String> = client
            .select(ANSWERS, None, &[tenant.id.into(), since.into()])?
            .map(|row| Ok((row.get::<i64>(1)?, row.get::<String>(2)?)))
            .collect::<SpiResult<Vec<_>>>()?
            .into_iter()
            .filter_map(|(id, text)| Some((id?, text?)))
            .collect();
        let messages = client.select(
            MESSAGES,
            None,
            &[
                tenant.id.into(),
                since.into(),
                until.into(),
                i64::from(max).into(),
            ],
        )?;
        let mut replayed = Vec::new();
        for row in messages {
            let id: i64 = row.get(1)?.unwrap_or_default();
            let Some(at) = row.get::<TimestampWithTimeZone>(2)? else {
                continue;
            };
            let kind: String = row.get(3)?.unwrap_or_default();
            let text: Option<String> = row.get(4)?;
            let then: Option<String> = row.get(5)?;
            let has_media: bool = row.get(6)?.unwrap_or(false);
            let mut facts = ReplayFacts {
                client,
                tenant: &tenant,
                at,
            };
            let message = Inbound {
                kind: &kind,
                text: text.as_deref(),
                has_media,
                choice: None,
            };
            let fresh = Conversation {
                customer_key: String::new(),
                customer_name: None,
                opted_out: false,
                handed_off: false,
                waiting: false,
            };
            let plan = decide::plan_reply(&tenant.settings, &fresh, &message, &mut facts);
            let answer_now = match &plan.reply {
                Some(decide::Reply::Send(text)) => Some(text.clone()),
                _ => None,
            };
            let answer_then = answers.get(&id).cloned();
            let now = plan.verdict.as_str().to_string();
            let changed = then.as_deref() != Some(now.as_str())
                || (plan.verdict != Verdict::Llm
                    && answer_then.is_some()
                    && answer_then != answer_now);
            replayed.push((
                id,
                at,
                kind,
                text,
                then,
                answer_then,
                now,
                answer_now,
                changed,
            ));
        }
        // Changed first; the window's order (newest first) within each.
        replayed.sort_by_key(|r| !r.8);
        Ok(replayed)
    });
    match replayed {
        Ok(rows) => TableIterator::new(rows),
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("replay: {e}"),
        ),
    }
}

/// The tenant given, else the one in context, with its switches; 22004 without either, P0002
/// when the caller may not see it.
fn tenant_in(client: &SpiClient, given: Option<pgrx::Uuid>, function: &str) -> SpiResult<Tenant> {
    let tenant = match given {
        Some(id) => Some(id),
        None => client
            .select("SELECT alphadome._current_tenant()", Some(1), &[])?
            .first()
            .get::<pgrx::Uuid>(1)?,
    };
    let Some(tenant) = tenant else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{function}: no tenant: set the tenant context (alphadome.tenant_id) or pass tenant_id"),
        );
    };
    let found = client.select(TENANT_BY_ID, Some(1), &[tenant.into()])?;
    match found
        .into_iter()
        .next()
        .map(tenant_from_row)
        .transpose()?
        .flatten()
    {
        Some(found) => Ok(found),
        None => raise(
            PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            format!("{function}: no tenant with id {tenant} (that you may see)"),
        ),
    }
}

/// The decision's facts for a message of the past: below the hourly limit, business hours at
/// the message's time, today's FAQ.
struct ReplayFacts<'a, 'conn> {
    client: &'a SpiClient<'conn>,
    tenant: &'a Tenant,
    at: TimestampWithTimeZone,
}

impl Facts for ReplayFacts<'_, '_> {
    fn replies_this_hour(&mut self) -> (i64, String) {
        (0, String::new())
    }

    fn faq_answer(&mut self, question: &str, confidence: f32) -> Option<String> {
        let (client, tenant) = (self.client, self.tenant);
        let copy = faq::copy::faq(
            *tenant.id.as_bytes(),
            tenant.faq_version,
            || -> pgrx::spi::SpiResult<_> {
                Ok((
                    faq::rows(client.select(faq::ROWS, None, &[tenant.id.into()])?)?,
                    faq::synonyms(client.select(faq::SYNONYMS, None, &[tenant.id.into()])?)?,
                ))
            },
        )
        .unwrap_or_else(|e| {
            raise(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("replay: {e}"),
            )
        });
        copy.answer(question, confidence)
            .map(|(at, _)| copy.row(at).answer.clone())
    }

    /// Today's products (none before 0.3.0).
    fn product_answer(&mut self, question: &str) -> Option<String> {
        if super::statements::Schema::installed() < super::statements::Schema::V0_3 {
            return None;
        }
        self.client
            .select(
                super::statements::PRODUCT_ANSWER.0,
                Some(1),
                &[self.tenant.id.into(), question.into()],
            )
            .and_then(|rows| rows.first().get::<String>(1))
            .unwrap_or_else(|e| {
                raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    format!("replay: {e}"),
                )
            })
    }

    /// As at the message's time, in its language.
    fn render(&mut self, answer: String, message: &str) -> String {
        let rendered = self
            .client
            .select(
                RENDER_AT,
                Some(1),
                &[
                    self.tenant.id.into(),
                    answer.as_str().into(),
                    message.into(),
                    self.at.into(),
                ],
            )
            .and_then(|rows| rows.first().get::<String>(1));
        rendered
            .unwrap_or_else(|e| {
                raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    format!("replay: {e}"),
                )
            })
            .unwrap_or(answer)
    }

    fn closed_until(&mut self) -> Option<Closed> {
        let closed = self
            .client
            .select(CLOSED_AT, Some(1), &[self.tenant.id.into(), self.at.into()])
            .and_then(|rows| {
                let Some(row) = rows.into_iter().next() else {
                    return Ok(None);
                };
                Ok(Some(Closed {
                    opens_at: row.get(1)?,
                }))
            });
        closed.unwrap_or_else(|e| {
            raise(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("replay: {e}"),
            )
        })
    }
}

/// What the bot would do now with a customer's typed message: the decision and the answer it
/// would send (NULL: the LLM would write it, or nothing is sent). Nothing is recorded or sent;
/// for the tenant in context, or the one given (an operator).
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome.try_message(message text, tenant_id uuid DEFAULT NULL)
    RETURNS TABLE (decision text, answer text)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'try_message_wrapper';
"#)]
fn try_message(
    message: Option<&str>,
    tenant_id: Option<pgrx::Uuid>,
) -> TableIterator<'static, (name!(decision, String), name!(answer, Option<String>))> {
    let tried = Spi::connect(|client| -> SpiResult<(String, Option<String>)> {
        let tenant = tenant_in(client, tenant_id, "try_message")?;
        let now = client
            .select("SELECT now()", Some(1), &[])?
            .first()
            .get::<TimestampWithTimeZone>(1)?
            .expect("now() is never NULL");
        let mut facts = ReplayFacts {
            client,
            tenant: &tenant,
            at: now,
        };
        let typed = Inbound {
            kind: "text",
            text: message,
            has_media: false,
            choice: None,
        };
        let fresh = Conversation {
            customer_key: String::new(),
            customer_name: None,
            opted_out: false,
            handed_off: false,
            waiting: false,
        };
        let plan = decide::plan_reply(&tenant.settings, &fresh, &typed, &mut facts);
        let answer = match plan.reply {
            Some(decide::Reply::Send(text)) => Some(text),
            _ => None,
        };
        Ok((plan.verdict.as_str().to_string(), answer))
    });
    match tried {
        Ok(row) => TableIterator::new(vec![row]),
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("try_message: {e}"),
        ),
    }
}
