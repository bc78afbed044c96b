//! Semantic FAQ matching (optional; sql/semantic.sql does the plumbing): a message the lexical
//! matcher left to the LLM, embedded by the relay, against the stored embeddings of the tenant's
//! FAQ texts. An entry scores the cosine similarity of its closest text. The same rule as
//! lexical matching decides (rank::clear_answer: a threshold, and a margin over the next
//! entry), and the lexical ranking can veto: an entry other than the semantic choice that the
//! message's words match for real (at least half the tenant's faq_confidence) means the two
//! disagree, and the LLM gets the message.
use super::rank::clear_answer;
use crate::errors::raise;
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use pgrx::PgSqlErrorCode;
use serde_json::{json, Value};

/// The tenant's thresholds.
const SETTINGS: &str = "SELECT s.faq_confidence, s.semantic_confidence
                          FROM alphadome.bot_control_settings s WHERE s.bot_tenant_id = $1";

/// The lexical ranking of the message, as match_faq gives it.
const LEXICAL: &str = "SELECT m.id, m.score FROM alphadome.match_faq($1, $2, 3) m";

/// The stored vectors of the FAQ's current texts (a text changed since has another hash).
const VECTORS: &str = "SELECT e.entry_id, e.embedding
                         FROM alphadome._faq_texts($1) f
                         JOIN alphadome.faq_embeddings e
                           ON e.bot_tenant_id = $1 AND e.entry_id = f.entry_id
                          AND e.text_sha256 = f.text_sha256 AND e.model = $2";

/// Cosine similarity, rounded to four places like lexical scores; 0 for vectors of different
/// lengths or without length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    ((dot / (na.sqrt() * nb.sqrt())) * 10_000.0).round() as f32 / 10_000.0
}

/// What the semantic step decided.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// The entry to answer with, if any.
    pub entry: Option<i64>,
    /// The closest entry and its score, and the next entry's score.
    pub best: Option<(i64, f32)>,
    pub runner_up: f32,
    /// Why it does not answer: "no_embeddings", "unclear" (below the threshold or within the
    /// margin), "lexical" (a lexical match names another entry); "" when it answers.
    pub reason: &'static str,
}

/// Decides from the message's vector, the FAQ's (entry id, vector of one of its texts), the
/// lexical ranking (entry id, score), the semantic threshold and the lexical score from which
/// a lexical match counts.
pub fn decide(
    message: &[f32],
    texts: &[(i64, Vec<f32>)],
    lexical: &[(i64, f32)],
    confidence: f32,
    lexical_floor: f32,
) -> Decision {
    // Each entry's closest text.
    let mut entries: Vec<(i64, f32)> = Vec::new();
    for (id, vector) in texts {
        let score = cosine(message, vector);
        match entries.iter_mut().find(|(e, _)| e == id) {
            Some(entry) => entry.1 = entry.1.max(score),
            None => entries.push((*id, score)),
        }
    }
    entries.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let ranked: Vec<(usize, f32)> = entries
        .iter()
        .take(2)
        .enumerate()
        .map(|(at, e)| (at, e.1))
        .collect();
    let best = entries.first().copied();
    let runner_up = entries.get(1).map_or(0.0, |e| e.1);
    let decision = |entry, reason| Decision {
        entry,
        best,
        runner_up,
        reason,
    };
    if entries.is_empty() {
        return decision(None, "no_embeddings");
    }
    let Some((at, _)) = clear_answer(&ranked, confidence) else {
        return decision(None, "unclear");
    };
    let chosen = entries[at].0;
    if lexical
        .iter()
        .any(|&(id, score)| id != chosen && score >= lexical_floor)
    {
        return decision(None, "lexical");
    }
    decision(Some(chosen), "")
}

/// The semantic decision for a tenant's message (its embedding by `model`), as jsonb:
/// {"answered", "entry_id", "score", "runner_up", "reason", "lexical": [[id, score], ...]}.
/// STABLE, invoker's rights: semantic_faq_answer (SECURITY DEFINER) calls it for the relay.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome._semantic_match(tenant_id uuid, message text, model text, embedding real[])
    RETURNS jsonb
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', '_semantic_match_wrapper';
"#)]
fn _semantic_match(
    tenant_id: Option<pgrx::Uuid>,
    message: Option<&str>,
    model: Option<&str>,
    embedding: Option<Vec<Option<f32>>>,
) -> pgrx::JsonB {
    let (Some(tenant), Some(message), Some(model), Some(embedding)) =
        (tenant_id, message, model, embedding)
    else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "_semantic_match: tenant_id, message, model and embedding are required",
        );
    };
    let Some(vector) = embedding.into_iter().collect::<Option<Vec<f32>>>() else {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "_semantic_match: the embedding has a NULL element",
        );
    };
    let found = Spi::connect(|client| -> SpiResult<Option<(Decision, Vec<(i64, f32)>)>> {
        let Some(settings) = client
            .select(SETTINGS, Some(1), &[tenant.into()])?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let faq_confidence = settings.get::<f32>(1)?.unwrap_or(0.6);
        let semantic_confidence = settings.get::<f32>(2)?.unwrap_or(0.8);
        let lexical = client
            .select(LEXICAL, None, &[tenant.into(), message.into()])?
            .map(|row| Ok((row.get::<i64>(1)?, row.get::<f32>(2)?)))
            .collect::<SpiResult<Vec<_>>>()?
            .into_iter()
            .filter_map(|(id, score)| Some((id?, score?)))
            .collect::<Vec<_>>();
        let texts = client
            .select(VECTORS, None, &[tenant.into(), model.into()])?
            .map(|row| Ok((row.get::<i64>(1)?, row.get::<Vec<Option<f32>>>(2)?)))
            .collect::<SpiResult<Vec<_>>>()?
            .into_iter()
            .filter_map(|(id, v)| Some((id?, v?.into_iter().collect::<Option<Vec<f32>>>()?)))
            .collect::<Vec<_>>();
        let decision = decide(
            &vector,
            &texts,
            &lexical,
            semantic_confidence,
            faq_confidence / 2.0,
        );
        Ok(Some((decision, lexical)))
    });
    let (decision, lexical) = match found {
        Ok(Some(found)) => found,
        Ok(None) => raise(
            PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            "_semantic_match: no such tenant",
        ),
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("_semantic_match: {e}"),
        ),
    };
    pgrx::JsonB(describe(&decision, &lexical))
}

fn describe(decision: &Decision, lexical: &[(i64, f32)]) -> Value {
    json!({
        "answered": decision.entry.is_some(),
        "entry_id": decision.best.map(|b| b.0),
        "score": decision.best.map(|b| b.1),
        "runner_up": decision.runner_up,
        "reason": decision.reason,
        "lexical": lexical.iter().map(|&(id, score)| json!([id, score])).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    fn texts() -> Vec<(i64, Vec<f32>)> {
        vec![
            (1, vec![1.0, 0.0, 0.0]),
            (1, vec![0.0, 0.0, 1.0]),
            (2, vec![0.0, 1.0, 0.0]),
        ]
    }

    #[test]
    fn cosine_is_one_for_the_same_direction_and_zero_for_orthogonal_or_mismatched_vectors() {
        assert_eq!(cosine(&[1.0, 2.0], &[2.0, 4.0]), 1.0);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[1.0, 0.0], &[1.0, 0.0, 0.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn the_closest_of_an_entrys_texts_counts_and_a_clear_match_answers() {
        let d = decide(&[0.0, 0.1, 1.0], &texts(), &[], 0.8, 0.3);
        assert_eq!(d.entry, Some(1), "{d:?}");
        assert_eq!(d.best.unwrap().0, 1);
        assert!(d.runner_up < 0.2);
    }

    #[test]
    fn below_the_threshold_or_within_the_margin_it_does_not_answer() {
        let far = decide(&[1.0, 1.0, 1.0], &texts(), &[], 0.8, 0.3);
        assert_eq!((far.entry, far.reason), (None, "unclear"));
        let close = decide(&[1.0, 0.95, 0.0], &texts(), &[], 0.5, 0.3);
        assert_eq!((close.entry, close.reason), (None, "unclear"), "{close:?}");
    }

    #[test]
    fn a_lexical_match_of_another_entry_vetoes_and_one_of_the_same_entry_does_not() {
        let vetoed = decide(&[0.0, 0.0, 1.0], &texts(), &[(2, 0.35)], 0.8, 0.3);
        assert_eq!((vetoed.entry, vetoed.reason), (None, "lexical"));
        let weak = decide(&[0.0, 0.0, 1.0], &texts(), &[(2, 0.2)], 0.8, 0.3);
        assert_eq!(
            weak.entry,
            Some(1),
            "a weak lexical match is no contradiction"
        );
        let same = decide(&[0.0, 0.0, 1.0], &texts(), &[(1, 0.55)], 0.8, 0.3);
        assert_eq!(same.entry, Some(1));
    }

    #[test]
    fn without_embeddings_it_does_not_answer() {
        let d = decide(&[1.0], &[], &[], 0.8, 0.3);
        assert_eq!((d.entry, d.best, d.reason), (None, None, "no_embeddings"));
    }
}
