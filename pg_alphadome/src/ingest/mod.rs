//! Webhook ingestion (docs/design.md section 1): one webhook POST, in the caller's transaction.
//! Every change is routed by its metadata.phone_number_id; with route_tenant, changes for any
//! other tenant are refused. Each new inbound message is recorded with its decision and the
//! decision carried out; statuses update the messages they name; the raw payload is kept
//! unless its message rows hold all of it (Outcome::only_new_messages).
//!
//! In Rust with kept plans rather than PL/pgSQL: the PL/pgSQL version spent about as much
//! time between its statements as in them, and the decision list is easier to test as a pure
//! function (decide.rs).
mod body;
mod decide;
mod facts;
pub(crate) mod message;
mod replay;
mod statements;
pub(crate) mod tenant_cache;
mod transcript;

use crate::errors::raise;
use crate::jsonb::{self, Json};
use crate::matching::Phrases;
use decide::{Conversation, Inbound, Plan, Settings};
use facts::TenantFacts;
use message::{field, is_message_id, message_text, sender_problem};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiResult, SpiTupleTable};
use pgrx::{JsonB, PgSqlErrorCode};
use serde_json::{json, Value};
use statements::Statements;
use std::rc::Rc;

/// The counts ingest returns (and keeps with the raw payload, with the notes).
#[derive(Default)]
struct Outcome {
    accepted: i32,
    duplicates: i32,
    statuses: i32,
    ignored: i32,
    refused: i32,
    jobs: i32,
    notes: Vec<Value>,
}

impl Outcome {
    /// The counts as a jsonb object, with the kept event's id when there is one.
    fn counts(&self, event_id: Option<i64>) -> pg_sys::Datum {
        let counts = [
            ("accepted", self.accepted),
            ("duplicates", self.duplicates),
            ("statuses", self.statuses),
            ("ignored", self.ignored),
            ("refused", self.refused),
            ("jobs", self.jobs),
        ];
        let mut members: Vec<(&str, i64)> = counts.map(|(name, n)| (name, n.into())).to_vec();
        members.extend(event_id.map(|id| ("event_id", id)));
        jsonb::object_of_integers(&members)
    }

    fn ignore(&mut self, note: Value) {
        self.ignored += 1;
        self.notes.push(note);
    }

    /// Whether every message was new and recorded, and nothing else happened.
    fn only_new_messages(&self) -> bool {
        self.accepted > 0
            && self.duplicates == 0
            && self.statuses == 0
            && self.ignored == 0
            && self.refused == 0
            && self.notes.is_empty()
    }
}

/// One webhook POST. Returns counts: accepted, duplicates, statuses, ignored, refused, jobs,
/// and the id of the kept event.
///
/// The SQL is written out so the function reads its own arguments: the payload is read in
/// place (crate::jsonb), never converted to text, and stored as it came.
/// Its kept plans take new parameters every call; a generic plan avoids re-planning the FAQ
/// match per message (a plan for the actual words looks cheaper).
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome.ingest_webhook(payload jsonb, route_tenant uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
    AS 'MODULE_PATHNAME', 'ingest_webhook_wrapper';
"#)]
fn ingest_webhook(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::datum::Internal {
    // SAFETY: fcinfo is this call's, with the two arguments of the SQL above.
    let (raw, route_tenant) = unsafe {
        (
            pgrx::fcinfo::pg_getarg_datum(fcinfo, 0),
            pgrx::fcinfo::pg_getarg::<pgrx::Uuid>(fcinfo, 1),
        )
    };
    let Some(raw) = raw else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            NOT_A_WEBHOOK,
        );
    };
    // The body's hash for the raw row's dedupe is taken from its text in SQL (a rare path).
    run(raw, route_tenant, Vec::new(), None)
}

/// The body of one webhook POST as text, as the relay receives it: what ingest_webhook does,
/// for any JSON Meta may sign. A body nested deeper than a webhook is refused (22023); a
/// \u0000, which jsonb cannot hold, is kept as U+FFFD, and the messages that held one are
/// refused with the reason while their neighbours are recorded (body.rs).
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome.ingest_webhook_text(body text, route_tenant uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
    AS 'MODULE_PATHNAME', 'ingest_webhook_text_wrapper';
"#)]
fn ingest_webhook_text(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::datum::Internal {
    // SAFETY: fcinfo is this call's, with the two arguments of the SQL above.
    let (body, route_tenant) = unsafe {
        (
            pgrx::fcinfo::pg_getarg::<&str>(fcinfo, 0),
            pgrx::fcinfo::pg_getarg::<pgrx::Uuid>(fcinfo, 1),
        )
    };
    let Some(body) = body else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            NOT_A_WEBHOOK,
        );
    };
    let found = body::scan(body);
    if found.depth > body::MAX_DEPTH {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "not a WhatsApp webhook: nested {} levels deep (a webhook has fewer than {})",
                found.depth,
                body::MAX_DEPTH
            ),
        );
    }
    let (text, refused) = if found.nul_escapes == 0 {
        (std::borrow::Cow::Borrowed(body), Vec::new())
    } else {
        let Some(refused) = body::messages_with_nul(body) else {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
                "the webhook body is not JSON",
            );
        };
        (std::borrow::Cow::Owned(body::without_nul(body)), refused)
    };
    let text = std::ffi::CString::new(text.as_bytes()).unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            "the webhook body holds a NUL byte",
        )
    });
    // SAFETY: jsonb_in reads a C string; an invalid one raises 22P02 like a cast would.
    let raw = unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::jsonb_in,
            &[Some(pg_sys::Datum::from(text.as_ptr()))],
        )
    }
    .expect("jsonb_in returns a datum");
    run(raw, route_tenant, refused, Some(body))
}

/// Ingests the webhook in `raw` (a jsonb datum valid for this call); the messages at the
/// positions in `refused` are refused (they held what jsonb cannot store).
fn run(
    raw: pg_sys::Datum,
    route_tenant: Option<pgrx::Uuid>,
    refused: Vec<[usize; 3]>,
    body: Option<&str>,
) -> pgrx::datum::Internal {
    // SAFETY: a non-null jsonb datum, valid for this call; read (and expanded, if it comes
    // compressed) here, in the call's memory context, not in SPI's.
    let payload = unsafe { Json::from_datum(raw) };
    let Some(entries @ Json::Array(_)) = payload.get("entry") else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            NOT_A_WEBHOOK,
        );
    };
    let result = statements::with(|prepared| {
        Spi::connect_mut(|client| {
            let mut ingest = Ingest {
                client,
                prepared,
                raw,
                route_tenant,
                refused,
                body,
                only_messages: holds_only_messages(payload),
                outcome: Outcome::default(),
            };
            if field(payload, "object").as_deref() == Some("whatsapp_business_account") {
                for (e, entry) in entries.items().enumerate() {
                    for (c, change) in entry.items_in("changes").enumerate() {
                        ingest.change(change, &[e, c])?;
                    }
                }
            } else {
                ingest
                    .outcome
                    .ignore(json!({"ignored": "object is not whatsapp_business_account"}));
            }
            ingest.finish()
        })
    });
    match result {
        // Built here, in the call's memory context (SPI's is gone), and handed over as the
        // datum it is: `Internal` only carries it, the SQL above declares jsonb.
        Ok((outcome, event_id)) => Some(outcome.counts(event_id)).into(),
        Err(error) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("ingest_webhook: {error}"),
        ),
    }
}

/// The webhook fields of a number the WhatsApp Business app and the Cloud API share (0.3.0).
macro_rules! coexistence_fields {
    () => {
        "smb_message_echoes" | "smb_app_state_sync" | "history"
    };
}

const NOT_A_WEBHOOK: &str =
    "not a WhatsApp webhook: expected a JSON object with an \"entry\" array";

/// A jsonb value as serde JSON, for the notes kept with the raw payload (rare: what ingest
/// ignored or refused); as a string when serde cannot hold it.
fn to_serde(value: Json) -> Value {
    let Some(text) = value.text() else {
        return Value::Null;
    };
    if let Json::String(_) = value {
        return Value::String(text.into_owned());
    }
    serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()))
}

struct Ingest<'a, 'conn> {
    client: &'a mut SpiClient<'conn>,
    prepared: &'a Statements,
    /// The payload argument as the caller passed it: a jsonb datum, valid for this call.
    raw: pg_sys::Datum,
    route_tenant: Option<pgrx::Uuid>,
    /// Messages (entry, change, index) refused before reading: they held a \u0000.
    refused: Vec<[usize; 3]>,
    /// The body as the relay received it (None: ingest_webhook's jsonb).
    body: Option<&'a str>,
    /// The payload holds messages and only what their rows keep (holds_only_messages).
    only_messages: bool,
    outcome: Outcome,
}

/// A tenant as ingest routes to it.
pub struct Tenant {
    id: pgrx::Uuid,
    is_active: bool,
    settings: Settings,
    /// bot_control_settings.faq_version (None: its FAQ has not changed since the tenant was made).
    faq_version: Option<i64>,
}

/// Whether a webhook holds messages and nothing their rows and conversations do not keep: per
/// change, the field `messages`, the product, the number the tenant has (metadata), the
/// messages (kept whole, each in its row) and the contacts who sent them (their names and ids
/// go to their conversations). Any other member, or a contact of no message, is kept with the
/// raw payload.
fn holds_only_messages(payload: Json) -> bool {
    let sent_by = |messages: Json, key: &str, id: Option<String>| {
        id.is_some() && messages.items().any(|m| field(m, key) == id)
    };
    // A list that is not one would be read as empty, and its content lost.
    let array_or_absent = |value: Json, key: &str| {
        value
            .get(key)
            .is_none_or(|list| matches!(list, Json::Array(_)))
    };
    payload.has_only(&["object", "entry"])
        && field(payload, "object").as_deref() == Some("whatsapp_business_account")
        && payload.items_in("entry").all(|entry| {
            entry.has_only(&["id", "changes"])
                && array_or_absent(entry, "changes")
                && entry.items_in("changes").all(|change| {
                    let value = change.get("value").unwrap_or(Json::Null);
                    let messages = value.get("messages").unwrap_or(Json::Null);
                    change.has_only(&["field", "value"])
                        && field(change, "field").as_deref() == Some("messages")
                        && value.has_only(&[
                            "messaging_product",
                            "metadata",
                            "contacts",
                            "messages",
                        ])
                        && field(value, "messaging_product").as_deref() == Some("whatsapp")
                        && value.get("metadata").is_some_and(|metadata| {
                            metadata.has_only(&["display_phone_number", "phone_number_id"])
                        })
                        && messages.items().next().is_some()
                        && array_or_absent(value, "contacts")
                        && value.items_in("contacts").all(|contact| {
                            contact.has_only(&["profile", "wa_id", "user_id"])
                                && contact.get("profile").is_none_or(|p| p.has_only(&["name"]))
                                && (sent_by(messages, "from", field(contact, "wa_id"))
                                    || sent_by(messages, "from_user_id", field(contact, "user_id")))
                        })
                })
        })
}

/// The path of an item inside the raw payload, for `#>`: entry e, change c, `list` item i.
fn path(at: &[usize; 2], list: &str, i: usize) -> Vec<String> {
    let [e, c] = *at;
    [
        "entry",
        &e.to_string(),
        "changes",
        &c.to_string(),
        "value",
        list,
        &i.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// Column `n` (from 1) of the first row, None when there is no row (a duplicate's RETURNING).
fn first<T: FromDatum + IntoDatum>(rows: SpiTupleTable, n: usize) -> SpiResult<Option<T>> {
    if rows.is_empty() {
        return Ok(None);
    }
    rows.first().get(n)
}

fn arg<'a, T: IntoDatum>(value: T) -> DatumWithOid<'a> {
    value.into()
}

impl Ingest<'_, '_> {
    /// The raw payload as a statement argument.
    fn raw(&self) -> DatumWithOid<'static> {
        // SAFETY: a jsonb datum that outlives every statement of this call.
        unsafe { DatumWithOid::new(self.raw, pg_sys::JSONBOID) }
    }

    fn change(&mut self, change: Json, at: &[usize; 2]) -> SpiResult<()> {
        let field_name = field(change, "field");
        // A template's review (issue 26): routed by the WhatsApp Business account the entry
        // names, not by a number.
        if let (Some("message_template_status_update"), Some(statement)) =
            (field_name.as_deref(), &self.prepared.template_status)
        {
            let (e, c) = (at[0] as i32, at[1] as i32);
            let rows = self.client.update(
                statement,
                None,
                &[arg(self.route_tenant), self.raw(), arg(e), arg(c)],
            )?;
            if first::<i32>(rows, 1)?.unwrap_or(0) > 0 {
                self.outcome.statuses += 1;
            } else {
                self.outcome.ignore(
                    json!({ "ignored": "a template status for no template of a known account" }),
                );
            }
            return Ok(());
        }
        let read = match field_name.as_deref() {
            Some("messages") => true,
            Some(coexistence_fields!()) => self.prepared.coexistence.is_some(),
            _ => false,
        };
        if !read {
            let what = format!("field {}", field_name.as_deref().unwrap_or("(none)"));
            self.outcome.ignore(json!({ "ignored": what }));
            return Ok(());
        }
        let value = change.get("value").unwrap_or(Json::Null);
        let phone_number_id = value
            .get("metadata")
            .and_then(|m| field(m, "phone_number_id"));
        let Some(tenant) = self.tenant(phone_number_id.as_deref())? else {
            self.outcome
                .ignore(json!({ "unknown_phone_number_id": phone_number_id }));
            return Ok(());
        };
        if self.route_tenant.is_some_and(|route| route != tenant.id) {
            self.outcome.refused += 1;
            self.outcome
                .notes
                .push(json!({ "refused_phone_number_id": phone_number_id }));
            return Ok(());
        }
        if !tenant.is_active {
            self.outcome
                .ignore(json!({ "inactive_tenant": tenant.id.to_string() }));
            return Ok(());
        }
        if let (Some(name @ coexistence_fields!()), Some(statement)) =
            (field_name.as_deref(), &self.prepared.coexistence)
        {
            return self.coexistence(statement, &tenant, name, at);
        }
        let contacts: Vec<Json> = value.items_in("contacts").collect();
        for (i, message) in value.items_in("messages").enumerate() {
            if self.refused.contains(&[at[0], at[1], i]) {
                self.refuse(
                    message,
                    "it holds \\u0000, which PostgreSQL cannot store (kept as U+FFFD)",
                );
                continue;
            }
            self.message(&tenant, message, &contacts, path(at, "messages", i))?;
        }
        for (i, status) in value.items_in("statuses").enumerate() {
            // A status for a send whose relay died before reporting it completes the job first,
            // so that the status itself then applies to the message it logged.
            let callback = field(status, "biz_opaque_callback_data");
            let job = callback
                .as_deref()
                .and_then(|data| data.strip_prefix("job:")?.parse::<i64>().ok());
            let recipient = callback
                .as_deref()
                .and_then(|data| data.strip_prefix("campaign:")?.parse::<i64>().ok());
            if let (Some(recipient), Some(statement)) = (recipient, &self.prepared.campaign_status)
            {
                self.client.update(
                    statement,
                    None,
                    &[
                        arg(tenant.id),
                        arg(recipient),
                        self.raw(),
                        arg(path(at, "statuses", i)),
                    ],
                )?;
            }
            if let (Some(job), Some(wamid)) = (job, field(status, "id")) {
                self.client.update(
                    &self.prepared.sent_by_status,
                    None,
                    &[arg(tenant.id), arg(job), arg(wamid)],
                )?;
            }
            self.client.update(
                &self.prepared.apply_status,
                None,
                &[arg(tenant.id), self.raw(), arg(path(at, "statuses", i))],
            )?;
            self.outcome.statuses += 1;
        }
        if let Some(errors) = value.get("errors") {
            self.outcome
                .notes
                .push(json!({"errors": to_serde(errors), "tenant": tenant.id.to_string()}));
        }
        Ok(())
    }

    /// A change from the shop's WhatsApp Business app (its echoes, contacts, chat history): what
    /// inbox.sql's _coexistence makes of it, counted like messages. Nothing is answered.
    fn coexistence(
        &mut self,
        statement: &pgrx::spi::OwnedPreparedStatement,
        tenant: &Tenant,
        name: &str,
        at: &[usize; 2],
    ) -> SpiResult<()> {
        let [e, c] = *at;
        let value_path: Vec<String> = ["entry", &e.to_string(), "changes", &c.to_string(), "value"]
            .map(String::from)
            .to_vec();
        let counts = self.client.update(
            statement,
            Some(1),
            &[arg(tenant.id), arg(name), self.raw(), arg(value_path)],
        )?;
        let Some(JsonB(counts)) = first::<JsonB>(counts, 1)? else {
            return Ok(());
        };
        let count = |key: &str| counts[key].as_i64().unwrap_or(0) as i32;
        self.outcome.accepted += count("accepted");
        self.outcome.duplicates += count("duplicates");
        self.outcome.ignored += count("ignored");
        Ok(())
    }

    /// Records a message as refused, with the reason, instead of reading it.
    fn refuse(&mut self, message: Json, reason: &str) {
        let id: Option<String> = field(message, "id").map(|id| id.chars().take(200).collect());
        self.outcome.refused += 1;
        self.outcome
            .notes
            .push(json!({"refused_message": id, "reason": reason}));
    }

    /// The tenant that owns a phone_number_id, from the session's copy (tenant_cache.rs).
    fn tenant(&mut self, phone_number_id: Option<&str>) -> SpiResult<Option<Rc<Tenant>>> {
        let Some(phone_number_id) = phone_number_id else {
            return Ok(None);
        };
        let (client, prepared) = (&mut *self.client, self.prepared);
        tenant_cache::tenant(phone_number_id, || {
            read_tenant(client, prepared, phone_number_id)
        })
    }

    fn message(
        &mut self,
        tenant: &Tenant,
        message: Json,
        contacts: &[Json],
        at: Vec<String>,
    ) -> SpiResult<()> {
        let wa_id = field(message, "from");
        let user_id = field(message, "from_user_id");
        if let Some(reason) = sender_problem(wa_id.as_deref(), user_id.as_deref()) {
            self.refuse(message, reason);
            return Ok(());
        }
        // The customer: phone (wa_id) when Meta sends it, else the business-scoped id, joined
        // to the conversation that already knows that id.
        let customer = match (&wa_id, &user_id) {
            (Some(phone), _) => Some(phone.clone()),
            (None, Some(bsuid)) => {
                let known = self.client.update(
                    &self.prepared.customer_by_bsuid,
                    Some(1),
                    &[arg(tenant.id), arg(bsuid.as_str())],
                )?;
                Some(first::<String>(known, 1)?.unwrap_or_else(|| bsuid.clone()))
            }
            (None, None) => None,
        };
        let (Some(customer), Some(wamid)) = (customer, field(message, "id")) else {
            self.outcome
                .ignore(json!({"ignored": "message without sender or id"}));
            return Ok(());
        };
        if !is_message_id(&wamid) {
            self.refuse(message, "id is not a message id");
            return Ok(());
        }
        let contact = contacts.iter().copied().find(|&c| {
            (wa_id.is_some() && field(c, "wa_id") == wa_id)
                || (user_id.is_some() && field(c, "user_id") == user_id)
        });
        let message_type = field(message, "type");
        let body = message_text(message);
        let sent_at = field(message, "timestamp")
            .filter(|t| (1..=11).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<f64>().ok());
        let row = self
            .client
            .update(
                &self.prepared.upsert_conversation,
                Some(1),
                &[
                    arg(tenant.id),
                    arg(customer.as_str()),
                    arg(wa_id.clone()),
                    arg(user_id
                        .clone()
                        .or_else(|| contact.and_then(|c| field(c, "user_id")))),
                    arg(contact
                        .and_then(|c| c.get("profile"))
                        .and_then(|p| field(p, "name"))),
                    arg(sent_at),
                ],
            )?
            .first();
        let conversation_id: i64 = row.get(1)?.unwrap_or_default();
        let (to, recipient) = (row.get::<String>(2)?, row.get::<String>(3)?);
        let conversation = Conversation {
            customer_key: customer,
            customer_name: row.get(8)?,
            opted_out: row.get(4)?.unwrap_or(false),
            handed_off: row.get(5)?.unwrap_or(false),
            waiting: row.get(9)?.unwrap_or(false),
        };
        let replies_this_hour = (
            row.get::<i64>(6)?.unwrap_or(0),
            row.get::<String>(7)?.unwrap_or_default(),
        );
        let media = message::media(message);
        let choice = message::choice(message);

        // Decide first, then record the message with its decision and its reply in one
        // statement; a duplicate (the unique wamid) records nothing and does nothing.
        let plan = {
            let mut facts = TenantFacts {
                client: &mut *self.client,
                prepared: self.prepared,
                tenant,
                replies_this_hour,
            };
            let inbound = Inbound {
                kind: message_type.as_deref().unwrap_or("unknown"),
                text: body.as_deref(),
                has_media: media.is_some(),
                choice: choice.as_ref().and_then(|c| c["id"].as_str()),
            };
            decide::plan_reply(&tenant.settings, &conversation, &inbound, &mut facts)
        };
        let job_needs_media = plan.reply.as_ref().is_some_and(decide::Reply::needs_media);
        let recorded = self.client.update(
            &self.prepared.record_message,
            Some(1),
            &[
                arg(tenant.id),
                arg(conversation_id),
                arg(wamid.as_str()),
                arg(message_type.as_deref().unwrap_or("unknown")),
                arg(body.as_deref()),
                self.raw(),
                arg(at),
                arg(plan.verdict.as_str()),
                arg(plan.reply.as_ref().map(|r| r.kind())),
                arg(to),
                arg(recipient),
                arg(conversation.customer_key.as_str()),
                arg(plan.reply.as_ref().map(|r| r.text())),
                arg(media.map(JsonB)),
                arg(job_needs_media),
                arg(choice.map(JsonB)),
            ],
        )?;
        let Some(message_id) = first::<i64>(recorded, 1)? else {
            self.outcome.duplicates += 1;
            return Ok(());
        };
        self.outcome.accepted += 1;
        if plan.reply.is_some() {
            self.outcome.jobs += 1;
        }
        self.carry_out(tenant.id, conversation_id, message_id, plan)
    }

    /// The rest of a plan for a newly recorded message: the opt-out switch and the alert.
    fn carry_out(
        &mut self,
        tenant: pgrx::Uuid,
        conversation_id: i64,
        message_id: i64,
        plan: Plan,
    ) -> SpiResult<()> {
        use decide::Verdict::{OptIn, OptOut, Payment, Product};
        // Selling (issue 24): the answer, and the order it may make, are selling.sql's.
        if plan.verdict == Payment {
            if let Some(sell) = &self.prepared.sell {
                let queued = self
                    .client
                    .update(sell, Some(1), &[arg(tenant), arg(message_id)])?;
                self.outcome.jobs += first::<i32>(queued, 1)?.unwrap_or(0);
            }
        }
        // What he asked about becomes a label campaigns can pick (issue 26).
        if matches!(plan.verdict, Product | Payment) {
            if let Some(label) = &self.prepared.label_interest {
                self.client
                    .update(label, None, &[arg(tenant), arg(message_id)])?;
            }
        }
        if matches!(plan.verdict, OptOut | OptIn) {
            self.client.update(
                &self.prepared.set_opted_out,
                None,
                &[
                    arg(tenant),
                    arg(conversation_id),
                    arg(plan.verdict == OptOut),
                ],
            )?;
        }
        if plan.verdict.starts_waiting() {
            self.client.update(
                &self.prepared.set_waiting,
                None,
                &[arg(tenant), arg(conversation_id)],
            )?;
        }
        if let Some(alert) = plan.alert {
            // Alerts about one customer link to his conversation; the hour's limit is the shop's.
            let about = (alert.kind != "rate_limit").then_some(conversation_id);
            let queued = self.client.update(
                &self.prepared.alert,
                Some(1),
                &[
                    arg(tenant),
                    arg(alert.kind),
                    arg(alert.text),
                    arg(alert.key),
                    arg(alert.due),
                    arg(about),
                ],
            )?;
            self.outcome.jobs += first::<i32>(queued, 1)?.unwrap_or(0);
        }
        Ok(())
    }

    /// Keeps the raw payload with what became of it, and wakes the worker when there are jobs.
    /// Returns the outcome and the kept event's id.
    ///
    /// A payload of new messages and nothing their rows do not keep (holds_only_messages), each
    /// of them recorded, is not kept (issue 27): the message rows are its record (each with its
    /// JSON as Meta sent it), and their unique wamid its dedupe. A duplicate (Meta's
    /// redelivery, a replay), a status, a note on what was ignored or refused, any other field
    /// or member keeps the payload, as before.
    fn finish(mut self) -> SpiResult<(Outcome, Option<i64>)> {
        if self.prepared.skips_message_events
            && self.only_messages
            && self.outcome.only_new_messages()
        {
            self.wake();
            return Ok((self.outcome, None));
        }
        let notes = std::mem::take(&mut self.outcome.notes);
        let notes = (!notes.is_empty()).then_some(JsonB(Value::Array(notes)));
        // SAFETY: a jsonb datum made here, used by the statement below.
        let counts = unsafe { DatumWithOid::new(self.outcome.counts(None), pg_sys::JSONBOID) };
        let event = self.client.update(
            &self.prepared.keep_event,
            Some(1),
            &[
                arg(self.route_tenant),
                self.raw(),
                counts,
                arg(notes),
                // The raw row's dedupe key: the sha256 of the body as the relay received it,
                // hashed here rather than from the stored jsonb's text in SQL (that costs a
                // serialisation); NULL: hashed from the payload's text in SQL.
                arg(self
                    .body
                    .map(|body| <sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()).to_vec())),
            ],
        )?;
        let event_id = first::<i64>(event, 1)?;
        self.wake();
        Ok((self.outcome, event_id))
    }

    fn wake(&self) {
        if self.outcome.jobs > 0 {
            crate::wake::wake_worker();
        }
    }
}

/// The tenant that owns a phone_number_id, with its switches, as the decision needs it.
fn read_tenant(
    client: &mut SpiClient,
    prepared: &Statements,
    phone_number_id: &str,
) -> SpiResult<Option<Tenant>> {
    let rows = client.update(&prepared.tenant, Some(1), &[arg(phone_number_id)])?;
    rows.into_iter().next().map_or(Ok(None), tenant_from_row)
}

/// A row of statements::tenant_select.
fn tenant_from_row(row: pgrx::spi::SpiHeapTupleData) -> SpiResult<Option<Tenant>> {
    let Some(id) = row.get::<pgrx::Uuid>(1)? else {
        return Ok(None);
    };
    // Every column is NOT NULL but escalation_phone; the defaults are never used.
    Ok(Some(Tenant {
        id,
        is_active: row.get(2)?.unwrap_or(false),
        settings: Settings {
            client_name: row.get(3)?.unwrap_or_default(),
            is_bot_enabled: row.get(4)?.unwrap_or(false),
            max_messages_per_hour: row.get(5)?.unwrap_or(0),
            enable_ai_responses: row.get(6)?.unwrap_or(false),
            escalation_phone: row.get(7)?,
            fallback_message: row.get(8)?.unwrap_or_default(),
            opt_out_keywords: Phrases::new(&row.get::<Vec<String>>(9)?.unwrap_or_default()),
            opt_in_keywords: row.get(10)?.unwrap_or_default(),
            handoff_keywords: Phrases::new(&row.get::<Vec<String>>(11)?.unwrap_or_default()),
            faq_confidence: row.get(12)?.unwrap_or(1.0),
            has_business_hours: row.get(14)?.unwrap_or(false),
            after_hours_message: row.get(15)?.unwrap_or_default(),
            type_replies: type_replies(row.get::<JsonB>(16)?),
            transcribes_voice: row.get(17)?.unwrap_or(false),
            understands_images: row.get(18)?.unwrap_or(false),
            sells: row.get(19)?.unwrap_or(false),
        },
        faq_version: row.get(13)?,
    }))
}

/// The tenant's replies by message type, from `type_replies` ({"location": "...", ...}).
fn type_replies(value: Option<JsonB>) -> Vec<(String, String)> {
    let Some(JsonB(Value::Object(replies))) = value else {
        return Vec::new();
    };
    replies
        .into_iter()
        .filter_map(|(kind, text)| Some((kind, text.as_str()?.to_string())))
        .collect()
}
