//! The statements of the message path, prepared once per session and kept: ingest runs them
//! for every webhook, and a kept plan skips parsing and planning (PostgreSQL re-plans it by
//! itself after DDL on what it reads). Every value is a parameter.
use pgrx::pg_sys::{self, Oid, PgOid};
use pgrx::spi::{OwnedPreparedStatement, Spi, SpiResult};
use std::cell::OnceCell;

/// The schema a session finds: this release's, or an older one's until ALTER EXTENSION ... UPDATE
/// runs (the library serves them all: 0.1.0's lacks business hours and the alerts table, 0.2.0's
/// the inbox).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Schema {
    V0_1,
    V0_2,
    V0_3,
}

impl Schema {
    /// Read at every call: a cheap catalog lookup, and an update in another session takes effect
    /// in this one's next webhook.
    pub fn installed() -> Schema {
        if crate::catalog::relation(c"whatsapp_templates") != pg_sys::InvalidOid {
            Schema::V0_3
        } else if crate::catalog::relation(c"alerts") != pg_sys::InvalidOid {
            Schema::V0_2
        } else {
            Schema::V0_1
        }
    }
}

/// A tenant with its switches and its FAQ's version (read by ingest::tenant_from_row), where
/// `$filter`; `$settings` are the columns 0.2.0 added.
macro_rules! tenant_select {
    ($settings:expr, $filter:literal) => {
        concat!(
            "SELECT t.id, t.is_active, t.client_name, s.is_bot_enabled, s.max_messages_per_hour,
            s.enable_ai_responses, s.escalation_phone, s.fallback_message, s.opt_out_keywords,
            s.opt_in_keywords, s.handoff_keywords, s.faq_confidence, s.faq_version, ",
            $settings,
            ", s.enable_payment_flow
       FROM alphadome.bot_tenants t
       JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = t.id
      WHERE ",
            $filter
        )
    };
}

macro_rules! settings_0_2 {
    () => {
        "s.business_hours IS NOT NULL, s.after_hours_message, s.type_replies,
            s.transcription_model IS NOT NULL, s.enable_media_understanding"
    };
}

/// The tenant that owns a phone_number_id.
pub const TENANT: (&str, &[Oid]) = (
    tenant_select!(settings_0_2!(), "t.whatsapp_phone_number_id = $1"),
    &[pg_sys::TEXTOID],
);

/// TENANT on a 0.1.0 schema: no business hours, no replies by type, no media understanding.
pub const TENANT_0_1: (&str, &[Oid]) = (
    tenant_select!(
        "false, ''::text, '{}'::jsonb, false, false",
        "t.whatsapp_phone_number_id = $1"
    ),
    &[pg_sys::TEXTOID],
);

/// The tenant with an id (0.2.0: replay).
pub const TENANT_BY_ID: &str = tenant_select!(settings_0_2!(), "t.id = $1");

/// When a tenant with business hours opens again, in Unix seconds and in words; no row while
/// it is open (_next_opening then gives now() itself).
pub const CLOSED_UNTIL: (&str, &[Oid]) = (
    "SELECT extract(epoch FROM o)::float8
       FROM alphadome.bot_control_settings s,
            LATERAL alphadome._next_opening(s.business_hours, s.holidays, s.timezone, now()) o
      WHERE s.bot_tenant_id = $1 AND o IS DISTINCT FROM now()",
    &[pg_sys::UUIDOID],
);

/// CLOSED_UNTIL on a 0.1.0 schema: never asked (no tenant has hours there).
pub const CLOSED_UNTIL_0_1: (&str, &[Oid]) =
    ("SELECT 0::float8 WHERE $1 IS NULL", &[pg_sys::UUIDOID]);

/// An answer with the shop's facts put in ({hours}, {opening}), in language $3
/// (crate::language).
pub const RENDER: (&str, &[Oid]) = (
    "SELECT alphadome.render_placeholders($1, $2, $3)",
    &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID],
);

/// RENDER before 0.3.0: no placeholders but the after-hours reply's {opening}, in English.
pub const RENDER_0_2: (&str, &[Oid]) = (
    "SELECT replace($2, '{opening}', coalesce(alphadome._opening_words(o, s.timezone, now()), '{opening}'))
       FROM alphadome.bot_control_settings s,
            LATERAL alphadome._next_opening(s.business_hours, s.holidays, s.timezone, now()) o
      WHERE s.bot_tenant_id = $1 AND $3::text IS NOT NULL",
    &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID],
);

/// RENDER on a 0.1.0 schema: no business hours, nothing to put in.
pub const RENDER_0_1: (&str, &[Oid]) = (
    "SELECT $2 WHERE $1::uuid IS NOT NULL OR $3::text IS NOT NULL",
    &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID],
);

/// The customer a business-scoped user id already belongs to.
pub const CUSTOMER_BY_BSUID: (&str, &[Oid]) = (
    "SELECT cv.customer_key FROM alphadome.conversations cv
      WHERE cv.bot_tenant_id = $1 AND cv.bsuid = $2
      LIMIT 1",
    &[pg_sys::UUIDOID, pg_sys::TEXTOID],
);

/// The customer's conversation, created or brought up to date ($6: Meta's Unix time, or now),
/// with the tenant's bot replies in this clock hour and that hour (the rate-limit alert's key):
/// read here rather than in a statement of its own, as nearly every message needs it. 0.3.0: a
/// message opens a resolved conversation again, and says whether the customer waits for a person.
macro_rules! upsert_conversation {
    ($reopen:literal, $waiting:literal) => {
        concat!(
            "INSERT INTO alphadome.conversations AS cv
            (bot_tenant_id, customer_key, wa_id, bsuid, customer_name, last_inbound_at)
     VALUES ($1, $2, $3, $4, $5, coalesce(to_timestamp($6), now()))
     ON CONFLICT (bot_tenant_id, customer_key) DO UPDATE
        SET wa_id = coalesce(excluded.wa_id, cv.wa_id),
            bsuid = coalesce(excluded.bsuid, cv.bsuid),
            customer_name = coalesce(excluded.customer_name, cv.customer_name),
            last_inbound_at = greatest(cv.last_inbound_at, excluded.last_inbound_at)",
            $reopen,
            "
     RETURNING cv.id, cv.wa_id, cv.bsuid, cv.opted_out_at IS NOT NULL, cv.handoff_at IS NOT NULL,
               (SELECT coalesce(sum(r.replies), 0)::bigint FROM alphadome.reply_counters r
                 WHERE r.bot_tenant_id = $1 AND r.hour = date_trunc('hour', now())),
               to_char(date_trunc('hour', now()), 'YYYY-MM-DD\"T\"HH24'), cv.customer_name, ",
            $waiting
        )
    };
}

const UPSERT_CONVERSATION_TYPES: &[Oid] = &[
    pg_sys::UUIDOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::FLOAT8OID,
];

pub const UPSERT_CONVERSATION: (&str, &[Oid]) = (
    upsert_conversation!(
        ",\n            resolved_at = NULL",
        "cv.waiting_since IS NOT NULL"
    ),
    UPSERT_CONVERSATION_TYPES,
);

/// UPSERT_CONVERSATION before 0.3.0: nobody waits.
pub const UPSERT_CONVERSATION_0_2: (&str, &[Oid]) =
    (upsert_conversation!("", "false"), UPSERT_CONVERSATION_TYPES);

/// The inbound message with its decision, once per (tenant, wamid), and when it is new, its
/// reply job ($9 its kind, NULL for none) counted in this session's shard of the tenant's hour
/// (reply_counters). One statement for the three writes every answered message makes.
/// The message's JSON is taken from the raw payload ($6 at path $7), exactly as Meta sent it.
/// Replies need no dedupe key: each comes from one newly recorded message. Who a reply goes
/// to: the phone number when Meta gave one ($10), else the business-scoped id ($11). What the
/// webhook says of the message's media ($14) is kept with it (0.2.0), and given to a job that
/// needs it ($15: a photo to look at, a voice note to transcribe).
/// Returns the message's id; no row for a duplicate.
macro_rules! record_message {
    ($media_column:literal, $media_value:literal) => {
        concat!(
            "WITH message AS (
         INSERT INTO alphadome.messages
                (bot_tenant_id, conversation_id, direction, wamid, message_type, body, payload, decision",
            $media_column,
            ")
         VALUES ($1, $2, 'inbound', $3, $4, $5, $6 #> $7, $8",
            $media_value,
            ")
         ON CONFLICT (bot_tenant_id, wamid) DO NOTHING
         RETURNING id
     ), reply AS (
         INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload)
         SELECT $1, $9, jsonb_build_object('to', $10::text, 'recipient', $11::text, 'customer', $12::text,
                                           'context_wamid', $3::text, 'inbound_message_id', m.id,
                                           'text', $13::text)
                        || CASE WHEN $15 THEN jsonb_build_object('media', $14) ELSE '{}' END
           FROM message m
          WHERE $9 IS NOT NULL
         RETURNING bot_tenant_id
     ), counted AS (
         INSERT INTO alphadome.reply_counters AS r (bot_tenant_id, hour, shard, replies)
         SELECT q.bot_tenant_id, date_trunc('hour', now()), pg_backend_pid() % 16, 1 FROM reply q
         ON CONFLICT (bot_tenant_id, hour, shard) DO UPDATE SET replies = r.replies + 1
     )
     SELECT m.id FROM message m"
        )
    };
}

const RECORD_MESSAGE_TYPES: &[Oid] = &[
    pg_sys::UUIDOID,
    pg_sys::INT8OID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::JSONBOID,
    pg_sys::TEXTARRAYOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::JSONBOID,
    pg_sys::BOOLOID,
    pg_sys::JSONBOID,
];

/// 0.3.0 keeps what the customer chose ($16: a button, a list row) with the message.
pub const RECORD_MESSAGE: (&str, &[Oid]) = (
    record_message!(", media, choice", ", $14, $16"),
    RECORD_MESSAGE_TYPES,
);

/// RECORD_MESSAGE on a 0.2.0 schema: no choice column.
pub const RECORD_MESSAGE_0_2: (&str, &[Oid]) =
    (record_message!(", media", ", $14"), RECORD_MESSAGE_TYPES);

/// RECORD_MESSAGE on a 0.1.0 schema: messages has no media column.
pub const RECORD_MESSAGE_0_1: (&str, &[Oid]) = (record_message!("", ""), RECORD_MESSAGE_TYPES);

/// Opt-out ($3 true) or opt-in (false) of a conversation.
/// 0.3.0: a customer who opts out waits for nobody any more (no reminder, no timeout message),
/// and withdraws his marketing consent (a later opt-in does not give it back: campaigns.sql).
pub const SET_OPTED_OUT: (&str, &[Oid]) = (
    "UPDATE alphadome.conversations cv
        SET opted_out_at = CASE WHEN $3 THEN now() END,
            marketing_withdrawn_at = CASE WHEN $3 THEN now() ELSE cv.marketing_withdrawn_at END,
            waiting_since = CASE WHEN $3 THEN NULL ELSE cv.waiting_since END,
            reminded_at = CASE WHEN $3 THEN NULL ELSE cv.reminded_at END
      WHERE cv.bot_tenant_id = $1 AND cv.id = $2",
    &[pg_sys::UUIDOID, pg_sys::INT8OID, pg_sys::BOOLOID],
);

/// SET_OPTED_OUT before 0.3.0: nobody waits.
pub const SET_OPTED_OUT_0_2: (&str, &[Oid]) = (
    "UPDATE alphadome.conversations cv
        SET opted_out_at = CASE WHEN $3 THEN now() END
      WHERE cv.bot_tenant_id = $1 AND cv.id = $2",
    &[pg_sys::UUIDOID, pg_sys::INT8OID, pg_sys::BOOLOID],
);

/// A tenant's active FAQ and canned-reply rows, for the session's copy (crate::faq).
pub const FAQ_ROWS: (&str, &[Oid]) = (crate::faq::ROWS, &[pg_sys::UUIDOID]);

/// FAQ_ROWS on a 0.1.0 schema: no phrasings.
pub const FAQ_ROWS_0_1: (&str, &[Oid]) = (crate::faq::ROWS_0_1, &[pg_sys::UUIDOID]);

/// The tenant's words for the matcher, for the same copy.
pub const FAQ_SYNONYMS: (&str, &[Oid]) = (crate::faq::SYNONYMS, &[pg_sys::UUIDOID]);

/// FAQ_SYNONYMS before 0.3.0: none.
pub const FAQ_SYNONYMS_0_2: (&str, &[Oid]) = (crate::faq::SYNONYMS_0_2, &[pg_sys::UUIDOID]);

/// An alert (ingest.sql: tenant, kind, text, dedupe key, due in Unix seconds or NULL for now,
/// the conversation it is about or NULL); returns how many jobs it queued.
const ALERT_TYPES: &[Oid] = &[
    pg_sys::UUIDOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::TEXTOID,
    pg_sys::FLOAT8OID,
    pg_sys::INT8OID,
];

pub const ALERT: (&str, &[Oid]) = (
    "SELECT alphadome._alert($1, $2, $3, $4, coalesce(to_timestamp($5), now()), $6)",
    ALERT_TYPES,
);

/// ALERT on a 0.2.0 schema: alerts name no conversation.
pub const ALERT_0_2: (&str, &[Oid]) = (
    "SELECT alphadome._alert($1, $2, $3, $4, coalesce(to_timestamp($5), now())) WHERE $6::int8 IS NULL OR true",
    ALERT_TYPES,
);

/// ALERT on a 0.1.0 schema: a free-form text to the escalation phone.
pub const ALERT_0_1: (&str, &[Oid]) = (
    "SELECT alphadome._alert($1, $3, $4) WHERE $2::text IS NULL OR $5::float8 IS NULL OR $6::int8 IS NULL OR true",
    ALERT_TYPES,
);

/// The customer asked for a person (0.3.0): he waits from now, and the bot is silent for him.
pub const SET_WAITING: (&str, &[Oid]) = (
    "UPDATE alphadome.conversations cv
        SET waiting_since = coalesce(cv.waiting_since, now()), reminded_at = NULL, resolved_at = NULL
      WHERE cv.bot_tenant_id = $1 AND cv.id = $2",
    &[pg_sys::UUIDOID, pg_sys::INT8OID],
);

/// SET_WAITING before 0.3.0: nobody waits.
pub const SET_WAITING_0_2: (&str, &[Oid]) = (
    "SELECT WHERE $1::uuid IS NULL AND $2::int8 IS NULL",
    &[pg_sys::UUIDOID, pg_sys::INT8OID],
);

/// The WhatsApp Business app beside the bot (0.3.0, inbox.sql's _coexistence): one change's
/// value ($3 at path $4) of field $2; returns {accepted, duplicates, ignored}.
pub const COEXISTENCE: (&str, &[Oid]) = (
    "SELECT alphadome._coexistence($1, $2, $3 #> $4)",
    &[
        pg_sys::UUIDOID,
        pg_sys::TEXTOID,
        pg_sys::JSONBOID,
        pg_sys::TEXTARRAYOID,
    ],
);

/// A status webhook ($3 at path $4 of the raw payload $2) for one of the tenant's sent
/// messages; a late 'delivered' never overwrites 'read'. 0.2.0 keeps Meta's pricing category.
macro_rules! apply_status {
    ($pricing:literal) => {
        concat!(
            "UPDATE alphadome.messages x
        SET status = st.value ->> 'status', error = coalesce(st.value -> 'errors', x.error)",
            $pricing,
            "
       FROM (SELECT $2 #> $3 AS value) st
      WHERE x.bot_tenant_id = $1 AND x.wamid = st.value ->> 'id' AND x.direction = 'outbound'
        AND alphadome._status_rank(st.value ->> 'status') > alphadome._status_rank(x.status)"
        )
    };
}

pub const APPLY_STATUS: (&str, &[Oid]) = (
    apply_status!(",\n            pricing_category = coalesce(st.value #>> '{pricing,category}', x.pricing_category)"),
    &[pg_sys::UUIDOID, pg_sys::JSONBOID, pg_sys::TEXTARRAYOID],
);

/// APPLY_STATUS on a 0.1.0 schema: no pricing category.
pub const APPLY_STATUS_0_1: (&str, &[Oid]) = (
    apply_status!(""),
    &[pg_sys::UUIDOID, pg_sys::JSONBOID, pg_sys::TEXTARRAYOID],
);

/// A status webhook naming the send job it reports (biz_opaque_callback_data "job:<id>"):
/// the job is done, whoever reported it (queue.sql's _sent_by_status).
pub const SENT_BY_STATUS: (&str, &[Oid]) = (
    "SELECT alphadome._sent_by_status($1, $2, $3)",
    &[pg_sys::UUIDOID, pg_sys::INT8OID, pg_sys::TEXTOID],
);

/// SENT_BY_STATUS on a 0.1.0 schema: sends carry no job there.
pub const SENT_BY_STATUS_0_1: (&str, &[Oid]) = (
    "SELECT false WHERE $1::uuid IS NULL AND $2::int8 IS NULL AND $3::text IS NULL",
    &[pg_sys::UUIDOID, pg_sys::INT8OID, pg_sys::TEXTOID],
);

/// A status webhook naming a campaign's recipient (biz_opaque_callback_data "campaign:<id>",
/// 0.3.0): the recipient row takes the status ($3 at path $4 of the raw payload $2), and its
/// job is done whoever sent it (campaigns.sql's _campaign_status).
pub const CAMPAIGN_STATUS: (&str, &[Oid]) = (
    "SELECT alphadome._campaign_status($1, $2, $3 #> $4)",
    &[
        pg_sys::UUIDOID,
        pg_sys::INT8OID,
        pg_sys::JSONBOID,
        pg_sys::TEXTARRAYOID,
    ],
);

/// Meta's message_template_status_update for a WhatsApp Business account (0.3.0, issue 26):
/// the change at entry $3, change $4 of the raw payload $2, for the route's tenant $1 or any
/// (campaigns.sql's _template_status_update).
pub const TEMPLATE_STATUS: (&str, &[Oid]) = (
    "SELECT alphadome._template_status_update($1, $2, $3, $4)",
    &[
        pg_sys::UUIDOID,
        pg_sys::JSONBOID,
        pg_sys::INT4OID,
        pg_sys::INT4OID,
    ],
);

/// The raw payload with what became of it: the counts ingest returns ($3), and notes ($4,
/// NULL for none) on what it ignored or refused. A payload kept before (a replay of the same
/// signed body) is counted on its row, not kept again: its id is returned.
pub const KEEP_EVENT: (&str, &[Oid]) = (
    "INSERT INTO alphadome.webhook_events (route_tenant_id, payload, outcome, payload_sha256)
     VALUES ($1, $2, $3 || jsonb_build_object('notes', coalesce($4, '[]'::jsonb)),
             coalesce($5, sha256(convert_to($2::text, 'UTF8'))))
     ON CONFLICT (payload_sha256) DO UPDATE
        SET replays = webhook_events.replays + 1, last_replay_at = now()
     RETURNING id",
    KEEP_EVENT_TYPES,
);

/// KEEP_EVENT before 0.3.0: no payload hash, every body kept.
pub const KEEP_EVENT_0_2: (&str, &[Oid]) = (
    "INSERT INTO alphadome.webhook_events (route_tenant_id, payload, outcome)
     VALUES ($1, $2, $3 || jsonb_build_object('notes', coalesce($4, '[]'::jsonb)))
     RETURNING id",
    KEEP_EVENT_TYPES,
);

/// The route's tenant, the payload, the counts, the notes, and the body's sha256 (NULL: hashed
/// from the payload's text).
const KEEP_EVENT_TYPES: &[Oid] = &[
    pg_sys::UUIDOID,
    pg_sys::JSONBOID,
    pg_sys::JSONBOID,
    pg_sys::JSONBOID,
    pg_sys::BYTEAOID,
];

/// A price or availability question answered from the tenant's products (0.3.0, selling.sql).
pub const PRODUCT_ANSWER: (&str, &[Oid]) = (
    "SELECT alphadome._product_answer($1, $2)",
    &[pg_sys::UUIDOID, pg_sys::TEXTOID],
);

/// A customer who wants to buy (decision 'payment', 0.3.0): selling.sql's answer to his
/// recorded message ($2); returns how many jobs it queued.
pub const SELL: (&str, &[Oid]) = (
    "SELECT alphadome._sell($1, $2)",
    &[pg_sys::UUIDOID, pg_sys::INT8OID],
);

/// A customer who asked about the shop's products (decision 'product' or 'payment', 0.3.0):
/// his conversation gets a label per category asked about (selling.sql's _label_interest).
pub const LABEL_INTEREST: (&str, &[Oid]) = (
    "SELECT alphadome._label_interest($1, $2)",
    &[pg_sys::UUIDOID, pg_sys::INT8OID],
);

/// All of them, prepared.
pub struct Statements {
    pub tenant: OwnedPreparedStatement,
    pub customer_by_bsuid: OwnedPreparedStatement,
    pub upsert_conversation: OwnedPreparedStatement,
    pub record_message: OwnedPreparedStatement,
    pub set_opted_out: OwnedPreparedStatement,
    pub faq_rows: OwnedPreparedStatement,
    pub faq_synonyms: OwnedPreparedStatement,
    pub closed_until: OwnedPreparedStatement,
    /// Whether answers may be in Swahili (0.3.0; in English before).
    pub languages: bool,
    pub render: OwnedPreparedStatement,
    pub alert: OwnedPreparedStatement,
    pub set_waiting: OwnedPreparedStatement,
    /// None before 0.3.0: the app's webhooks are ignored there.
    pub coexistence: Option<OwnedPreparedStatement>,
    /// None before 0.3.0: no products there.
    pub product_answer: Option<OwnedPreparedStatement>,
    /// None before 0.3.0: nothing is sold there.
    pub sell: Option<OwnedPreparedStatement>,
    /// None before 0.3.0: no labels there.
    pub label_interest: Option<OwnedPreparedStatement>,
    pub apply_status: OwnedPreparedStatement,
    pub sent_by_status: OwnedPreparedStatement,
    /// None before 0.3.0: no campaigns there.
    pub campaign_status: Option<OwnedPreparedStatement>,
    /// None before 0.3.0: template status webhooks are ignored there.
    pub template_status: Option<OwnedPreparedStatement>,
    pub keep_event: OwnedPreparedStatement,
    /// Whether a webhook of new messages only is left to its message rows (0.3.0; before, every
    /// payload is kept).
    pub skips_message_events: bool,
}

thread_local! {
    // A backend is one thread; the plans live as long as the session, one set per schema.
    static PREPARED: [OnceCell<Statements>; 3] = const { [OnceCell::new(), OnceCell::new(), OnceCell::new()] };
}

fn prepare((sql, types): (&str, &[Oid])) -> SpiResult<OwnedPreparedStatement> {
    let types: Vec<PgOid> = types.iter().map(|t| PgOid::from(*t)).collect();
    // Mutating: each statement must see what the ones before it in this call wrote.
    Spi::connect(|client| client.prepare_mut(sql, &types).map(|s| s.keep()))
}

fn prepare_all(schema: Schema) -> SpiResult<Statements> {
    let current = schema >= Schema::V0_2;
    let inbox = schema >= Schema::V0_3;
    Ok(Statements {
        tenant: prepare(if current { TENANT } else { TENANT_0_1 })?,
        customer_by_bsuid: prepare(CUSTOMER_BY_BSUID)?,
        upsert_conversation: prepare(if inbox {
            UPSERT_CONVERSATION
        } else {
            UPSERT_CONVERSATION_0_2
        })?,
        record_message: prepare(match schema {
            Schema::V0_3 => RECORD_MESSAGE,
            Schema::V0_2 => RECORD_MESSAGE_0_2,
            Schema::V0_1 => RECORD_MESSAGE_0_1,
        })?,
        set_opted_out: prepare(if inbox {
            SET_OPTED_OUT
        } else {
            SET_OPTED_OUT_0_2
        })?,
        faq_rows: prepare(if current { FAQ_ROWS } else { FAQ_ROWS_0_1 })?,
        faq_synonyms: prepare(if inbox {
            FAQ_SYNONYMS
        } else {
            FAQ_SYNONYMS_0_2
        })?,
        closed_until: prepare(if current {
            CLOSED_UNTIL
        } else {
            CLOSED_UNTIL_0_1
        })?,
        languages: inbox,
        render: prepare(match schema {
            Schema::V0_3 => RENDER,
            Schema::V0_2 => RENDER_0_2,
            Schema::V0_1 => RENDER_0_1,
        })?,
        alert: prepare(match schema {
            Schema::V0_3 => ALERT,
            Schema::V0_2 => ALERT_0_2,
            Schema::V0_1 => ALERT_0_1,
        })?,
        set_waiting: prepare(if inbox { SET_WAITING } else { SET_WAITING_0_2 })?,
        coexistence: inbox.then(|| prepare(COEXISTENCE)).transpose()?,
        product_answer: inbox.then(|| prepare(PRODUCT_ANSWER)).transpose()?,
        sell: inbox.then(|| prepare(SELL)).transpose()?,
        label_interest: inbox.then(|| prepare(LABEL_INTEREST)).transpose()?,
        apply_status: prepare(if current {
            APPLY_STATUS
        } else {
            APPLY_STATUS_0_1
        })?,
        sent_by_status: prepare(if current {
            SENT_BY_STATUS
        } else {
            SENT_BY_STATUS_0_1
        })?,
        campaign_status: inbox.then(|| prepare(CAMPAIGN_STATUS)).transpose()?,
        template_status: inbox.then(|| prepare(TEMPLATE_STATUS)).transpose()?,
        keep_event: prepare(if inbox { KEEP_EVENT } else { KEEP_EVENT_0_2 })?,
        skips_message_events: inbox,
    })
}

/// Runs `f` with the session's prepared statements for the installed schema, preparing them on
/// first use.
pub fn with<R>(f: impl FnOnce(&Statements) -> SpiResult<R>) -> SpiResult<R> {
    let schema = Schema::installed();
    PREPARED.with(|cells| {
        let cell = &cells[schema as usize];
        if cell.get().is_none() {
            let prepared = prepare_all(schema)?;
            let _ = cell.set(prepared);
        }
        f(cell.get().expect("prepared above"))
    })
}
