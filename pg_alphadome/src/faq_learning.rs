//! What the FAQ learns from (issue 29; the SQL is `sql/faq_learning.sql`): which customer
//! messages count as one question, and which only greet. Both read a message as the matcher does
//! (faq::text), so that "Do you deliver?" and "do you deliver" are one question, and "Hi!" or
//! "Habari yako" is none.
use crate::faq::lexicon::Lexicon;
use crate::faq::text;
use pgrx::prelude::*;

thread_local! {
    /// The shipped words (greetings are not per tenant), read once per session.
    static SHIPPED: Lexicon = Lexicon::with(&[]);
}

/// A message's words folded (lower case, accents off, signs and spaces between words made one
/// space): the key under which faq_unanswered counts it and the owner's dismissal keeps it.
/// NULL for a message without a letter or digit.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome._faq_question_key(message text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', '_faq_question_key_wrapper';
"#)]
fn _faq_question_key(message: &str) -> Option<String> {
    question_key(message)
}

fn question_key(message: &str) -> Option<String> {
    let lowered = text::lower(message);
    let key = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!key.is_empty()).then_some(key)
}

/// Whether a message only greets or thanks ("Hi!", "Habari yako", "Good evening"): nothing the
/// FAQ could learn to answer. A message with no word the matcher reads counts as greeting only.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome._greeting_only(message text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', '_greeting_only_wrapper';
"#)]
fn _greeting_only(message: &str) -> bool {
    greeting_only(message)
}

fn greeting_only(message: &str) -> bool {
    SHIPPED.with(|lexicon| {
        let asked = text::asked(message, lexicon);
        asked.greeting >= asked.words.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_question_whatever_its_case_and_signs() {
        assert_eq!(
            question_key("  Do you DELIVER?? "),
            question_key("do you deliver")
        );
        assert_eq!(
            question_key("Mnafungua saa ngapi?").as_deref(),
            Some("mnafungua saa ngapi")
        );
        assert_eq!(question_key("?!"), None);
    }

    #[test]
    fn greetings_alone_are_told_from_questions_after_greetings() {
        assert!(greeting_only("Hi!"));
        assert!(greeting_only("Habari yako"));
        assert!(!greeting_only("Hi, do you repair guitars?"));
        assert!(!greeting_only("do you sell drums"));
    }
}
