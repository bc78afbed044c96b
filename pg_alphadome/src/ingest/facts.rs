//! The decision's database facts (decide::Facts) for one tenant and message, read with the
//! session's prepared statements.
use super::decide::{self, Facts};
use super::statements::Statements;
use super::{tenant_cache, Tenant};
use crate::errors::raise;
use crate::faq;
use pgrx::datum::DatumWithOid;
use pgrx::spi::SpiClient;
use pgrx::PgSqlErrorCode;

pub struct TenantFacts<'a, 'conn> {
    pub client: &'a mut SpiClient<'conn>,
    pub prepared: &'a Statements,
    pub tenant: &'a Tenant,
    /// Read with the conversation (ingest), or already counted (a transcript's answer).
    pub replies_this_hour: (i64, String),
}

fn failed(error: impl std::fmt::Display) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("ingest_webhook: {error}"),
    )
}

impl Facts for TenantFacts<'_, '_> {
    fn closed_until(&mut self) -> Option<decide::Closed> {
        let (client, prepared, tenant) = (&mut *self.client, self.prepared, self.tenant);
        let id: DatumWithOid = tenant.id.into();
        let closed = client
            .update(&prepared.closed_until, Some(1), &[id])
            .and_then(|rows| {
                let Some(row) = rows.into_iter().next() else {
                    return Ok(None);
                };
                Ok(Some(decide::Closed {
                    opens_at: row.get(1)?,
                }))
            });
        closed.unwrap_or_else(|error| failed(error))
    }

    /// Placeholders that depend on the settings alone ({hours}) are rendered once per session
    /// and settings (tenant_cache.rs); {opening} moves with the clock, so an answer with it is
    /// rendered each time.
    fn render(&mut self, answer: String, message: &str) -> String {
        let (client, prepared, tenant) = (&mut *self.client, self.prepared, self.tenant);
        // Before 0.3.0 every answer is in English.
        let language = if prepared.languages {
            crate::language::message_language(message)
        } else {
            "en"
        };
        let mut render = || -> pgrx::spi::SpiResult<String> {
            let args: [DatumWithOid; 3] =
                [tenant.id.into(), answer.as_str().into(), language.into()];
            let rendered = client
                .update(&prepared.render, Some(1), &args)?
                .first()
                .get::<String>(1)?;
            Ok(rendered.unwrap_or_else(|| answer.clone()))
        };
        let rendered = if answer.contains("{opening}") {
            render()
        } else {
            tenant_cache::rendered(*tenant.id.as_bytes(), language, &answer, render)
                .map(|text| text.to_string())
        };
        rendered.unwrap_or_else(|error| failed(error))
    }

    /// None before 0.3.0: that schema has no products.
    fn product_answer(&mut self, question: &str) -> Option<String> {
        let (client, prepared, tenant) = (&mut *self.client, self.prepared, self.tenant);
        let statement = prepared.product_answer.as_ref()?;
        let args: [DatumWithOid; 2] = [tenant.id.into(), question.into()];
        client
            .update(statement, Some(1), &args)
            .and_then(|rows| rows.first().get::<String>(1))
            .unwrap_or_else(|error| failed(error))
    }

    fn replies_this_hour(&mut self) -> (i64, String) {
        self.replies_this_hour.clone()
    }

    /// From the session's copy of the tenant's FAQ (faq/copy.rs), ranked as match_faq ranks.
    fn faq_answer(&mut self, question: &str, confidence: f32) -> Option<String> {
        let (client, prepared, tenant) = (&mut *self.client, self.prepared, self.tenant);
        let copy = faq::copy::faq(
            *tenant.id.as_bytes(),
            tenant.faq_version,
            || -> pgrx::spi::SpiResult<_> {
                let id: DatumWithOid = tenant.id.into();
                let rows = faq::rows(client.update(&prepared.faq_rows, None, &[id])?)?;
                let id: DatumWithOid = tenant.id.into();
                let synonyms =
                    faq::synonyms(client.update(&prepared.faq_synonyms, None, &[id])?)?;
                Ok((rows, synonyms))
            },
        )
        .unwrap_or_else(|error| failed(error));
        copy.answer(question, confidence)
            .map(|(at, _)| copy.row(at).answer.clone())
    }
}
