//! The language a customer's message is answered in: English, or Swahili when the message has a
//! word only Swahili (or Sheng) uses. `render_placeholders` says the hours in that language
//! (hours.sql), and selling.sql answers in it.
//!
//! In Rust rather than as a regular expression in SQL: ingest asks it of every answer with a
//! placeholder, and the expression cost about 125,000 instructions a message (make count,
//! 2026-12-01), more than a tenth of an ingest.
use pgrx::prelude::*;

/// Whole words that make a message Swahili.
const SWAHILI_WORDS: [&str; 53] = [
    "saa",
    "ngapi",
    "gani",
    "lini",
    "wapi",
    "nini",
    "leo",
    "kesho",
    "jana",
    "sasa",
    "habari",
    "jambo",
    "sijambo",
    "mambo",
    "vipi",
    "niaje",
    "aje",
    "hujambo",
    "wazi",
    "shukran",
    "nashukuru",
    "asante",
    "tafadhali",
    "naomba",
    "nataka",
    "sitaki",
    "karibu",
    "bei",
    "duka",
    "mko",
    "uko",
    "niko",
    "tuko",
    "kweli",
    "ndiyo",
    "ndio",
    "hapana",
    "sawa",
    "sana",
    "pia",
    "mimi",
    "wewe",
    "sisi",
    "hamjambo",
    "wikendi",
    "jumapili",
    "jumamosi",
    "jumatatu",
    "siku",
    "kufungua",
    "mnafungua",
    "mnafunga",
    "funguliwa",
];

/// Beginnings of Swahili verbs ("you (plural) have ...": mnauza, mmefunga): a word that starts
/// with one and goes on with letters a to z only.
const SWAHILI_PREFIXES: [&str; 2] = ["mna", "mme"];

/// 'sw' or 'en' for a message; NULL is English.
#[pg_extern(sql = r#"
CREATE FUNCTION alphadome._message_language(message text) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', '_message_language_wrapper';
"#)]
fn _message_language(message: Option<&str>) -> &'static str {
    message_language(message.unwrap_or(""))
}

/// 'sw' when some word of `message`, in lower case, is one of SWAHILI_WORDS or a SWAHILI_PREFIXES
/// word; else 'en'. A word is a run of letters, digits and underscores (any script), as a
/// regular expression's `\m...\M` reads words in a UTF-8 database.
pub fn message_language(message: &str) -> &'static str {
    let mut word = String::new();
    for part in message.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if part.is_empty() {
            continue;
        }
        word.clear();
        // One character for one, as SQL's lower() maps them (the first of a longer lower case).
        word.extend(part.chars().filter_map(|c| c.to_lowercase().next()));
        if is_swahili(&word) {
            return "sw";
        }
    }
    "en"
}

fn is_swahili(word: &str) -> bool {
    SWAHILI_WORDS.contains(&word)
        || SWAHILI_PREFIXES.iter().any(|prefix| {
            word.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::message_language;

    #[test]
    fn english_stays_english() {
        for message in [
            "What are your opening hours?",
            "Do you sell guitars",
            "Hi, how much is the Yamaha keyboard?",
            "I want to pay now",
            "",
            "🎸🎸",
            // Words that only hold a Swahili word: saa, bei, leo, uko.
            "saab salesman beige leopard ukulele",
            // A verb prefix needs letters after it, letters only.
            "mna mme mna1 mme_x",
        ] {
            assert_eq!(message_language(message), "en", "{message}");
        }
    }

    #[test]
    fn swahili_and_sheng_are_swahili() {
        for message in [
            "Mnafungua saa ngapi?",
            "mko open leo",
            "Habari, bei ya gitaa ni ngapi?",
            "Asante sana!",
            "Niaje, mnauza keyboards?",
            "Mmefunga?",
            "NATAKA KUNUNUA",
            "sawa.",
            "poa, uko wapi",
            "jumamosi mko wazi?",
            "(saa)",
            "open_leo saa",
        ] {
            assert_eq!(message_language(message), "sw", "{message}");
        }
    }

    #[test]
    fn a_word_is_letters_and_digits_of_any_script() {
        // Next to a letter of another script a Swahili word is part of a longer word.
        assert_eq!(message_language("saaé"), "en");
        assert_eq!(message_language("leo2"), "en");
        assert_eq!(message_language("2 leo"), "sw");
        assert_eq!(message_language("«leo»"), "sw");
        // Lower case as SQL's lower(): İ is i, the Kelvin sign k.
        assert_eq!(message_language("LİNİ"), "sw");
        assert_eq!(message_language("\u{212A}ESHO"), "sw");
        // mna + letters a to z: not beyond them.
        assert_eq!(message_language("mnaé"), "en");
    }
}
