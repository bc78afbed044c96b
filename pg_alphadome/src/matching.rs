//! Keywords in a customer's message (opt-out, opt-in, handoff), and 0.1.0's FAQ score.
//!
//! 0.1.0's match_faq (SQL) scored each FAQ row with _faq_score; 0.2.0 ranks in Rust (crate::faq)
//! and drops both. The function stays in the library, without SQL of its own, for a database
//! whose schema is still 0.1.0: CREATE EXTENSION ... VERSION '0.1.0' and its match_faq need it
//! until ALTER EXTENSION ... UPDATE.
use pgrx::prelude::*;

/// 0.1.0's score in [0, 1] of one FAQ entry for a message, from English lexemes (to_tsvector):
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

/// The lexemes of a text[] without copying them (NULL elements, which to_tsvector never
/// makes, are skipped).
fn view<'a>(lexemes: &'a Array<'_, &str>) -> Vec<&'a str> {
    lexemes.iter().flatten().collect()
}

/// 0.1.0's match_faq calls it for every active FAQ row of the tenant.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
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

/// Keywords or phrases, each as its whole lower-case words: read once, when a tenant's settings
/// are loaded, not again for every message compared with them (make count).
#[derive(Debug, Clone, Default)]
pub struct Phrases(Vec<Vec<String>>);

impl Phrases {
    pub fn new<S: AsRef<str>>(keywords: &[S]) -> Phrases {
        Phrases(
            keywords
                .iter()
                .map(|k| words(k.as_ref()))
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    /// The first keyword, its words in lower case.
    pub fn first(&self) -> Option<String> {
        self.0.first().map(|p| p.join(" "))
    }
}

/// A message with its lower-case words, read once for every list it is compared with.
pub struct Said<'a> {
    text: &'a str,
    words: Vec<String>,
}

impl<'a> Said<'a> {
    pub fn new(text: &'a str) -> Said<'a> {
        Said {
            text,
            words: words(text),
        }
    }

    /// Whether the phrase stands in the message as whole words.
    fn holds(&self, phrase: &[String]) -> bool {
        self.words.windows(phrase.len()).any(|w| w == phrase)
    }
}

/// Does the message contain one of the keywords (or phrases) as whole words, ignoring case?
pub fn has_keyword(said: &Said, keywords: &Phrases) -> bool {
    keywords.0.iter().any(|p| said.holds(p))
}

/// What a message says about stopping messages, by the tenant's opt-out words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOut {
    /// Nothing, or a question that only mentions a word ("how do I stop the strings buzzing?").
    No,
    /// Plainly: an opt-out word or phrase with nothing but politeness around it ("stop please",
    /// "Acha kunitumia messages").
    Clear,
    /// A short message about our messages holding an opt-out word among others ("I don't want
    /// these adverts stop"): asked, not guessed.
    Unsure,
}

/// Words that add nothing to "stop": politeness and filler, English, Swahili and Sheng.
const FILLER: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "now",
    "thanks",
    "thank",
    "you",
    "ok",
    "okay",
    "anymore",
    "tafadhali",
    "sasa",
    "asante",
    "bana",
    "tu",
    "hizi",
    "tena",
];

/// Words that say a message is about the messages the shop sends.
const MESSAGING: &[&str] = &[
    "message",
    "messages",
    "msg",
    "msgs",
    "sms",
    "texts",
    "spam",
    "adverts",
    "ads",
    "promotions",
    "promos",
    "ujumbe",
    "jumbe",
    "tangazo",
    "matangazo",
    "notifications",
];

/// A message of more words than this is never read as an opt-out: it says something else.
const OPT_OUT_MAX_WORDS: usize = 12;

/// Whether `message` asks to stop messages, by `keywords` (single words and phrases). Clear:
/// the message is a keyword once filler is left out, or a phrase of two or more words stands in
/// a message of at most 8 words. Unsure: a keyword stands in a message of at most 12 words that
/// speaks of messages and is not a question. Else No.
pub fn opt_out(said: &Said, keywords: &Phrases) -> OptOut {
    let meant: Vec<&String> = said
        .words
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    let phrases = &keywords.0;
    if phrases
        .iter()
        .any(|p| p.len() == meant.len() && p.iter().zip(&meant).all(|(a, b)| a == *b))
    {
        return OptOut::Clear;
    }
    let count = said.words.len();
    if count <= 8 && phrases.iter().any(|p| p.len() >= 2 && said.holds(p)) {
        return OptOut::Clear;
    }
    let question = said.text.trim_end().ends_with('?');
    let about_messages = said.words.iter().any(|w| MESSAGING.contains(&w.as_str()));
    if !question
        && about_messages
        && count <= OPT_OUT_MAX_WORDS
        && phrases.iter().any(|p| said.holds(p))
    {
        return OptOut::Unsure;
    }
    OptOut::No
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

    fn stop(message: &str) -> OptOut {
        opt_out(&Said::new(message), &Phrases::new(&OPT_OUT_WORDS))
    }

    fn keyword(message: &str, keywords: &[&str]) -> bool {
        has_keyword(&Said::new(message), &Phrases::new(keywords))
    }

    const OPT_OUT_WORDS: [&str; 7] = [
        "stop",
        "unsubscribe",
        "stop please",
        "acha",
        "acha kunitumia",
        "sitaki messages",
        "usinitumie",
    ];

    #[test]
    fn a_plain_opt_out_is_clear_in_english_swahili_and_sheng() {
        for message in [
            "STOP",
            "stop please",
            "Please stop!",
            "Acha kunitumia messages",
            "acha tafadhali",
            "sitaki messages hizi",
            "Usinitumie tena",
        ] {
            assert_eq!(stop(message), OptOut::Clear, "{message}");
        }
    }

    #[test]
    fn a_word_among_others_is_asked_and_a_question_or_long_message_is_not_an_opt_out() {
        assert_eq!(stop("I don't want these adverts stop"), OptOut::Unsure);
        assert_eq!(
            stop("acha kuniletea hizi ujumbe za matangazo"),
            OptOut::Unsure
        );
        assert_eq!(stop("acha nikuulize bei ya gitaa"), OptOut::No);
        assert_eq!(stop("How do I stop the strings buzzing?"), OptOut::No);
        assert_eq!(
            stop("the delivery guy did not stop at my gate yesterday so I missed the parcel"),
            OptOut::No
        );
        assert_eq!(stop("Do you sell drums"), OptOut::No);
        assert_eq!(stop("stopwatch"), OptOut::No);
        assert_eq!(stop(""), OptOut::No);
    }

    #[test]
    fn keywords_match_whole_words_and_phrases_only() {
        assert!(keyword("Can I talk to a HUMAN please?", &["human"]));
        assert!(keyword("I want to talk to a person", &["talk to a person"]));
        assert!(!keyword("Is the price humane?", &["human"]));
        assert!(!keyword("agents", &["agent"]));
        assert!(!keyword("anything", &["", "  "]));
        assert!(keyword("STOP", &["stop"]));
    }
}
