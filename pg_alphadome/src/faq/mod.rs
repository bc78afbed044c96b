//! The FAQ: how a customer's message finds an entry (text.rs, rank.rs), each session's copy
//! of its tenants' FAQs (copy.rs), and match_faq, which ranks from that copy exactly as the
//! decision does.
pub mod copy;
pub mod lexicon;
pub mod rank;
pub mod semantic;
pub mod text;

use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use rank::Row;

/// A tenant's active FAQ and canned-reply rows, for its copy.
pub const ROWS: &str = "SELECT d.id, d.data_type, d.question, d.phrasings, d.answer, d.category
                          FROM alphadome.bot_training_data d
                         WHERE d.bot_tenant_id = $1 AND d.is_active";

/// ROWS on a 0.1.0 schema (before ALTER EXTENSION ... UPDATE): no phrasings.
pub const ROWS_0_1: &str =
    "SELECT d.id, d.data_type, d.question, '{}'::text[], d.answer, d.category
                              FROM alphadome.bot_training_data d
                             WHERE d.bot_tenant_id = $1 AND d.is_active";

/// A tenant's words for the matcher (bot_control_settings.faq_synonyms), for its copy.
pub const SYNONYMS: &str = "SELECT w.key, w.value
                              FROM alphadome.bot_control_settings s, jsonb_each_text(s.faq_synonyms) w
                             WHERE s.bot_tenant_id = $1";

/// SYNONYMS before 0.3.0: none.
pub const SYNONYMS_0_2: &str = "SELECT NULL::text, NULL::text WHERE $1::uuid IS NULL AND false";

/// The rows of SYNONYMS, read: (word, what it means).
pub fn synonyms<'a>(
    table: impl Iterator<Item = pgrx::spi::SpiHeapTupleData<'a>>,
) -> SpiResult<Vec<(String, String)>> {
    table
        .map(|row| {
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
            ))
        })
        .collect()
}

/// The rows of ROWS, read.
pub fn rows<'a>(
    table: impl Iterator<Item = pgrx::spi::SpiHeapTupleData<'a>>,
) -> SpiResult<Vec<Row>> {
    table
        .map(|row| {
            Ok(Row {
                id: row.get(1)?.unwrap_or_default(),
                data_type: row.get(2)?.unwrap_or_default(),
                question: row.get(3)?.unwrap_or_default(),
                phrasings: row.get(4)?.unwrap_or_default(),
                answer: row.get(5)?.unwrap_or_default(),
                category: row.get(6)?.unwrap_or_default(),
            })
        })
        .collect()
}

/// One row of match_faq.
type Ranked = (i64, String, String, String, String, f32);

/// A tenant's FAQ and canned replies ranked for a message (rank.rs). SECURITY INVOKER: the
/// caller sees the tenant's settings row (row-level security), or gets nothing; the copy it
/// ranks from holds the same rows its own query would.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome.match_faq(tenant_id uuid, message text, max_results integer DEFAULT 3)
    RETURNS TABLE (id bigint, data_type text, question text, answer text, category text, score real)
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'match_faq_wrapper';
"#)]
fn match_faq(
    tenant_id: Option<pgrx::Uuid>,
    message: Option<&str>,
    max_results: Option<i32>,
) -> TableIterator<
    'static,
    (
        name!(id, i64),
        name!(data_type, String),
        name!(question, String),
        name!(answer, String),
        name!(category, String),
        name!(score, f32),
    ),
> {
    let (Some(tenant), Some(message)) = (tenant_id, message) else {
        return TableIterator::new(Vec::new());
    };
    let max = max_results.unwrap_or(3).max(0) as usize;
    let found = Spi::connect(|client| -> SpiResult<Vec<Ranked>> {
        let settings = client.select(
            "SELECT s.faq_version FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = $1",
            Some(1),
            &[tenant.into()],
        )?;
        let Some(version) = settings
            .into_iter()
            .next()
            .map(|r| r.get::<i64>(1))
            .transpose()?
        else {
            return Ok(Vec::new());
        };
        let faq = copy::faq(*tenant.as_bytes(), version, || -> SpiResult<_> {
            Ok((
                rows(client.select(ROWS, None, &[tenant.into()])?)?,
                synonyms(client.select(SYNONYMS, None, &[tenant.into()])?)?,
            ))
        })?;
        Ok(faq
            .rank(message, max)
            .into_iter()
            .map(|(at, score)| {
                let row = faq.row(at);
                (
                    row.id,
                    row.data_type.clone(),
                    row.question.clone(),
                    row.answer.clone(),
                    row.category.clone(),
                    score,
                )
            })
            .collect())
    });
    match found {
        Ok(found) => TableIterator::new(found),
        Err(e) => crate::errors::raise(
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("match_faq: {e}"),
        ),
    }
}
