//! Matching a customer's message against a tenant's FAQ and keyword lists: small set
//! arithmetic called once per FAQ row, so it is done here rather than in SQL subqueries.
use pgrx::prelude::*;

/// Score in [0, 1] of one FAQ entry for a message, from English lexemes (to_tsvector):
/// 0.7 × how much of the message the entry covers (a message word found in the question
/// counts 1, in the answer 0.6, in the category 0.3) + 0.3 × how much of the question the
/// message covers. Rounded to 4 places, so ties are ties.
pub fn faq_score(message: &[&str], question: &[&str], answer: &[&str], category: &[&str]) -> f32 {
    let mut words: Vec<&str> = message.to_vec();
    words.sort_unstable();
    words.dedup();
    if words.is_empty() {
        return 0.0;
    }
    let covered: f64 = words
        .iter()
        .map(|w| {
            if question.contains(w) {
                1.0
            } else if answer.contains(w) {
                0.6
            } else if category.contains(w) {
                0.3
            } else {
                0.0
            }
        })
        .sum();
    let mut asked: Vec<&str> = question.to_vec();
    asked.sort_unstable();
    asked.dedup();
    let question_covered = if asked.is_empty() {
        0.0
    } else {
        asked
            .iter()
            .filter(|q| words.binary_search(q).is_ok())
            .count() as f64
            / asked.len() as f64
    };
    let score = 0.7 * covered / words.len() as f64 + 0.3 * question_covered;
    ((score * 10_000.0).round() / 10_000.0) as f32
}

/// One FAQ or canned-reply row's words, for ranking.
pub struct FaqWords<'a> {
    pub id: i64,
    pub question: &'a [&'a str],
    pub answer: &'a [&'a str],
    pub category: &'a [&'a str],
}

/// match_faq's first row, computed in Rust: the highest score above 0, the lowest id among
/// equal scores. Returns the winner's position in `rows` and its score.
pub fn best_faq<'a>(
    message: &[&str],
    rows: impl IntoIterator<Item = FaqWords<'a>>,
) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32, i64)> = None;
    for (at, row) in rows.into_iter().enumerate() {
        let score = faq_score(message, row.question, row.answer, row.category);
        let better = match best {
            None => score > 0.0,
            Some((_, top, id)) => score > top || (score == top && row.id < id),
        };
        if better {
            best = Some((at, score, row.id));
        }
    }
    best.map(|(at, score, _)| (at, score))
}

/// The lexemes of a text[] without copying them (NULL elements, which to_tsvector never
/// makes, are skipped).
fn view<'a>(lexemes: &'a Array<'_, &str>) -> Vec<&'a str> {
    lexemes.iter().flatten().collect()
}

/// Called for every active FAQ row of the tenant (match_faq): the arrays are borrowed, not
/// copied into Strings, as this runs a dozen times per message.
#[pg_extern(immutable, parallel_safe, strict)]
fn _faq_score(
    message: Array<&str>,
    question: Array<&str>,
    answer: Array<&str>,
    category: Array<&str>,
) -> f32 {
    faq_score(
        &view(&message),
        &view(&question),
        &view(&answer),
        &view(&category),
    )
}

/// Lower-case words of letters and digits: "Talk to a HUMAN!" → ["talk", "to", "a", "human"].
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Does the message contain one of the keywords (or phrases) as whole words, ignoring case?
pub fn has_keyword(message: &str, keywords: &[&str]) -> bool {
    let said = words(message);
    keywords.iter().any(|k| {
        let phrase = words(k);
        !phrase.is_empty() && said.windows(phrase.len()).any(|w| w == phrase.as_slice())
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn opening_hours_outscores_a_question_that_only_shares_a_day() {
        let message = ["time", "open", "saturday"];
        let hours = faq_score(
            &message,
            &["open", "hour"],
            &[
                "open",
                "monday-saturday",
                "monday",
                "saturday",
                "9",
                "6",
                "pm",
            ],
            &["busi"],
        );
        let delivery = faq_score(
            &message,
            &["deliv", "saturday"],
            &["deliveri", "everi", "day", "sunday"],
            &["busi"],
        );
        assert!(hours > delivery, "{hours} vs {delivery}");
        assert_eq!(hours, 0.5233);
    }

    #[test]
    fn the_exact_question_scores_one_and_nothing_shared_scores_zero() {
        assert_eq!(
            faq_score(&["open", "hour"], &["open", "hour"], &[], &[]),
            1.0
        );
        assert_eq!(
            faq_score(&["zebra"], &["open", "hour"], &["monday"], &["busi"]),
            0.0
        );
        assert_eq!(faq_score(&[], &["open"], &[], &[]), 0.0);
        assert_eq!(
            faq_score(&["open", "open"], &["open"], &[], &[]),
            1.0,
            "repeated words count once"
        );
    }

    #[test]
    fn best_faq_takes_the_top_score_then_the_lowest_id_and_never_a_zero() {
        let hours = FaqWords {
            id: 7,
            question: &["open", "hour"],
            answer: &[],
            category: &[],
        };
        let same = FaqWords {
            id: 3,
            question: &["open", "hour"],
            answer: &[],
            category: &[],
        };
        let other = FaqWords {
            id: 1,
            question: &["deliv"],
            answer: &["open"],
            category: &[],
        };
        let none = FaqWords {
            id: 0,
            question: &["zebra"],
            answer: &[],
            category: &[],
        };
        assert_eq!(
            best_faq(&["open", "hour"], [other, hours, same]),
            Some((2, 1.0))
        );
        let none_again = FaqWords {
            id: 0,
            question: &["zebra"],
            answer: &[],
            category: &[],
        };
        assert_eq!(best_faq(&["open"], [none, none_again]), None);
        assert_eq!(best_faq(&["open"], []), None);
    }

    #[test]
    fn keywords_match_whole_words_and_phrases_only() {
        assert!(has_keyword("Can I talk to a HUMAN please?", &["human"]));
        assert!(has_keyword(
            "I want to talk to a person",
            &["talk to a person"]
        ));
        assert!(!has_keyword("Is the price humane?", &["human"]));
        assert!(!has_keyword("agents", &["agent"]));
        assert!(!has_keyword("anything", &["", "  "]));
        assert!(has_keyword("STOP", &["stop"]));
    }
}
