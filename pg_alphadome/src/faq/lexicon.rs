//! The words a shop's customers use for the same thing, so a message finds its entry when the
//! entry's phrasings say it another way: English synonyms (mend → repair, courier → deliver),
//! an item read as its category (synthesizer → keyboard), Swahili and Sheng words (duka → shop),
//! two words that mean one thing (boxing day → holiday, payment plan → instalment), and Swahili
//! verb roots, which a customer writes with any subject, tense, object or negation prefix
//! (tengenez-: mnatengeneza, kuitengeneza, hawatengenezi → repair) and, after a long root, the
//! applicative ending (shughulikia).
//!
//! The shipped lexicon below is every shop's; a tenant adds words of its own
//! (bot_control_settings.faq_synonyms), which win over the shipped ones; a key of two words
//! separated by a space is a phrase ("lay by": "instalment"); a meaning written
//! "+kind" makes the word an item of that kind ("cello": "+instrument"), read as itself and,
//! a little less, as its kind (SHIPPED_KINDS). Entries and messages go through the same
//! lexicon, so a phrasing "mnatengeneza gitaa" and a message "mnaweza kuitengeneza gitaa
//! yangu?" meet at "repair guitar".
use std::cell::RefCell;
use std::collections::HashMap;

/// Words that mean another word, for every shop (English, Swahili, Sheng). Kept to words whose
/// meaning does not depend on the shop: a word that means two things in a shop is left out.
const SHIPPED_WORDS: &[(&str, &str)] = &[
    // Repairs
    ("fix", "repair"),
    ("mend", "repair"),
    ("broken", "broken"),
    ("cracked", "broken"),
    ("damaged", "broken"),
    ("spoilt", "broken"),
    ("spoiled", "broken"),
    ("faulty", "broken"),
    ("repairs", "repair"),
    // Delivery
    ("delivery", "deliver"),
    ("deliveries", "deliver"),
    ("ship", "deliver"),
    ("shipping", "deliver"),
    ("shipment", "deliver"),
    ("courier", "deliver"),
    ("send", "deliver"),
    ("dispatch", "deliver"),
    ("doorstep", "deliver"),
    ("transport", "deliver"),
    ("post", "deliver"),
    // Payment
    ("payment", "pay"),
    ("option", "method"),
    ("options", "method"),
    ("mode", "method"),
    ("modes", "method"),
    ("visa", "card"),
    ("mastercard", "card"),
    ("debit", "card"),
    ("mpesa", "pesa"),
    ("installment", "instalment"),
    ("installments", "instalment"),
    ("instalments", "instalment"),
    ("deposit", "instalment"),
    ("balance", "instalment"),
    // Where the shop is
    ("address", "location"),
    ("located", "location"),
    ("situated", "location"),
    ("street", "location"),
    ("road", "location"),
    ("building", "location"),
    ("direction", "location"),
    ("directions", "location"),
    ("area", "location"),
    ("store", "shop"),
    ("stock", "sell"),
    ("duka", "shop"),
    ("dukani", "shop"),
    ("settle", "pay"),
    ("monthly", "month"),
    ("layaway", "instalment"),
    // Where the shop is
    ("pin", "location"),
    ("jengo", "location"),
    ("ofisi", "shop"),
    // When it is open: "saa" is the Swahili clock ("saa ngapi": what time)
    ("timing", "hour"),
    ("timings", "hour"),
    ("wazi", "open"),
    ("saa", "time"),
    ("operating", "open"),
    ("operate", "open"),
    ("shut", "close"),
    ("closing", "close"),
    ("closed", "close"),
    ("closes", "close"),
    ("jumatatu", "monday"),
    ("jumanne", "tuesday"),
    ("jumatano", "wednesday"),
    ("alhamisi", "thursday"),
    ("ijumaa", "friday"),
    ("jumamosi", "saturday"),
    ("jumapili", "sunday"),
    ("sikukuu", "holiday"),
    ("siku", "day"),
    ("wikendi", "weekend"),
    // Delivery (not "bring": "bring the instrument in" is how a repair starts)
    ("rider", "deliver"),
    ("g4s", "deliver"),
    // Items read as their category
    ("gitaa", "guitar"),
    ("gita", "guitar"),
    ("classical", "guitar"),
    // Not the ukulele: shops sell it as an item of its own, and an owner's entry about ukuleles
    // must not tie with the guitars' (an item read as its category replaces the word).
    ("piano", "keyboard"),
    ("pianos", "keyboard"),
    ("kinanda", "keyboard"),
    ("synth", "keyboard"),
    ("synthesizer", "keyboard"),
    ("amp", "amplifier"),
    ("amps", "amplifier"),
    // Swahili and Sheng
    ("aje", "vipi"),
    ("asanteni", "asante"),
    ("naeza", "can"),
    // "Is at", agreeing with any noun in Swahili, with every noun in Sheng (duka iko wapi)
    ("liko", "iko"),
    ("ziko", "iko"),
    ("yuko", "iko"),
    ("kiko", "iko"),
    ("viko", "iko"),
    ("dijitali", "digital"),
    ("nitawezaje", "vipi"),
];

/// Two words that together mean one thing, for every shop: read as that word, in place of both.
const SHIPPED_PHRASES: &[(&str, &str)] = &[
    ("boxing day", "holiday"),
    ("payment plan", "instalment"),
    ("payment plans", "instalment"),
    ("hire purchase", "instalment"),
    ("courier service", "deliver"),
    ("courier services", "deliver"),
    ("get to", "find"),
    // "Send me your paybill, the location, a photo": share it (not a delivery).
    ("send me", "share"),
    ("drum kit", "drum"),
    ("drum kits", "drum"),
    ("drum set", "drum"),
];

/// A specific item read also as the kind of thing it is, so "do you repair drum kits?" finds
/// the entry about repairing instruments and "Korg synthesizers" the keyboards. Unlike
/// SHIPPED_WORDS the word keeps its own meaning: an entry about drums still fits drums best.
/// Brands only where they make one kind of instrument (not Yamaha or Roland).
const SHIPPED_KINDS: &[(&str, &str)] = &[
    // A holiday or the weekend is a day: "are you open on boxing day?" asks what "mnafanya kazi
    // siku gani?" (which days) asks. (Not the days of the week: entries name them, and an
    // answer's "next day" is no answer to "open on Saturday?")
    ("weekend", "day"),
    ("holiday", "day"),
    ("guitar", "instrument"),
    ("keyboard", "instrument"),
    ("drum", "instrument"),
    ("cajon", "instrument"),
    ("amplifier", "instrument"),
    ("violin", "instrument"),
    ("saxophone", "instrument"),
    ("trumpet", "instrument"),
    ("flute", "instrument"),
    ("ukulele", "instrument"),
    ("fender", "guitar"),
    ("gibson", "guitar"),
    ("ibanez", "guitar"),
    ("epiphone", "guitar"),
    ("squier", "guitar"),
    ("nylon", "guitar"),
    ("casio", "keyboard"),
    ("korg", "keyboard"),
    ("nord", "keyboard"),
    ("kurzweil", "keyboard"),
];

/// Swahili verb roots (and English verbs Sheng conjugates the Swahili way: mnadeliver), with
/// what they mean. A word is the root with prefixes before it and an ending after it.
const SHIPPED_ROOTS: &[(&str, &str)] = &[
    ("tengenez", "repair"),
    ("rekebish", "repair"),
    ("haribik", "broken"),
    ("vunjik", "broken"),
    ("fungu", "open"),
    ("fung", "close"),
    ("let", "deliver"),
    ("tum", "deliver"),
    ("fikish", "deliver"),
    ("deliver", "deliver"),
    ("lip", "pay"),
    ("uz", "sell"),
    ("kubal", "accept"),
    ("chuku", "take"),
    ("ruhus", "accept"),
    ("pat", "find"),
    ("patikan", "find"),
    ("wez", "can"),
    ("fany", "do"),
    ("shughulik", "handle"),
];

/// What may come before a Swahili verb root: negation (ha-, si-), subject (ni-, u-, a-, tu-, m-,
/// wa-, ...), tense (-na-, -li-, -ta-, -me-, ...), object (-ni-, -ku-, -i-, -zi-, ...), or the
/// infinitive ku-; written together, in any number up to four.
#[rustfmt::skip]
const VERB_PREFIXES: &[&str] = &[
    "ha", "hu", "si", "ni", "n", "u", "a", "tu", "m", "mu", "mw", "wa", "i", "zi", "ki", "vi",
    "li", "ya", "ku", "kw", "na", "ta", "me", "nge", "ka", "ja", "sha", "ji",
];

/// What may end a Swahili verb: the final vowel, the passive (-wa, -iwa, -ewa) and causative
/// (-isha, -esha) forms, and -je ("how": nitalipaje, nawezaje). Not the applicative (-ia: tumia is "use", not "send"). No ending: an
/// English verb in Sheng (mnadeliver), for roots of at least ENGLISH_ROOT_LEN letters.
#[rustfmt::skip]
const VERB_ENDINGS: &[&str] = &[
    "", "a", "e", "i", "wa", "iwa", "ewa", "isha", "esha", "ishwa", "eshwa", "ika", "eka",
    "eni", "aje", "eje",
];

/// A root this long may stand without an ending (a shorter one would be too easy to find), and
/// take the applicative endings (APPLICATIVE_ENDINGS).
const ENGLISH_ROOT_LEN: usize = 5;

/// The applicative (doing for or about: shughulikia, deal with; rekebishia, repair for), only
/// after a long root: on a short one it makes another verb (tumia is "use", not "send").
const APPLICATIVE_ENDINGS: &[&str] = &["ia", "ea", "iwa", "ewa", "ie", "ee"];

/// Greetings, politeness and forms of address: before a question they say nothing about it.
/// Said alone they are the message (the canned "Hello" answers them).
#[rustfmt::skip]
const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "hallo", "helo", "hae", "habari", "mambo", "niaje", "sasa", "vipi",
    "salaam", "salam", "sema", "jambo", "hujambo", "shikamoo", "good", "morning", "afternoon",
    "evening", "day", "asubuhi", "mchana", "jioni", "yako", "yenu", "poa", "fiti", "ok", "okay",
    "dear", "sir", "madam", "boss", "bro", "buda", "msee", "guys", "team", "there", "quick",
    "one", "question", "swali", "moja",
];

/// A tenant's words and the shipped ones, as the matcher reads them.
#[derive(Default)]
pub struct Lexicon {
    /// A word (lower case, accents folded) → the word it means.
    means: HashMap<String, String>,
    /// Two words said together → the word they mean ("boxing day" → holiday), by the first word.
    phrases: HashMap<String, Vec<(String, String)>>,
    /// A verb root → the word it means.
    roots: HashMap<String, String>,
    /// The longest root, in characters (bounds the search).
    longest_root: usize,
    greetings: Vec<String>,
    /// A word as the matcher reads it → the kind of thing it also is (SHIPPED_KINDS).
    kinds: HashMap<String, String>,
    /// What raw words read as (text::normal), remembered: an FAQ's phrasings repeat their words,
    /// and so do customers. Emptied past MEMO_WORDS words, so a session's copy stays small.
    memo: RefCell<HashMap<String, Option<String>>>,
}

/// The most words Lexicon::remembered keeps.
const MEMO_WORDS: usize = 20_000;

impl Lexicon {
    /// The shipped lexicon with a tenant's words: (word, what it means); a word ending in "-" is
    /// a Swahili verb root ("tengenez-"). Keys are compared in lower case; empty ones are skipped.
    pub fn with(tenant: &[(String, String)]) -> Lexicon {
        let mut lexicon = Lexicon::default();
        let shipped = SHIPPED_WORDS
            .iter()
            .map(|&(w, m)| (w.to_string(), m.to_string()));
        let roots = SHIPPED_ROOTS
            .iter()
            .map(|&(r, m)| (format!("{r}-"), m.to_string()));
        let kinds = SHIPPED_KINDS
            .iter()
            .map(|&(w, k)| (w.to_string(), format!("+{k}")));
        let phrases = SHIPPED_PHRASES
            .iter()
            .map(|&(p, m)| (p.to_string(), m.to_string()));
        for (word, meaning) in shipped
            .chain(phrases)
            .chain(roots)
            .chain(kinds)
            .chain(tenant.iter().cloned())
        {
            let key = super::text::lower(word.trim());
            let meaning = super::text::lower(meaning.trim());
            if meaning.is_empty() {
                continue;
            }
            if let Some(kind) = meaning.strip_prefix('+') {
                let kind = kind.trim();
                if !kind.is_empty() && !key.is_empty() && key.chars().all(char::is_alphanumeric) {
                    lexicon.kinds.insert(key, kind.to_string());
                }
                continue;
            }
            if let Some((first, second)) = key.split_once(' ') {
                let second = second.trim();
                let one_word = |w: &str| !w.is_empty() && w.chars().all(char::is_alphanumeric);
                if one_word(first) && one_word(second) {
                    let known = lexicon.phrases.entry(first.to_string()).or_default();
                    known.retain(|(w, _)| w != second);
                    known.push((second.to_string(), meaning));
                }
                continue;
            }
            match key.strip_suffix('-') {
                Some(root) if !root.is_empty() && root.chars().all(char::is_alphanumeric) => {
                    lexicon.longest_root = lexicon.longest_root.max(root.len());
                    lexicon.roots.insert(root.to_string(), meaning);
                }
                _ if !key.is_empty() && key.chars().all(char::is_alphanumeric) => {
                    lexicon.means.insert(key, meaning);
                }
                _ => {}
            }
        }
        lexicon.greetings = GREETINGS.iter().map(|g| g.to_string()).collect();
        lexicon
    }

    /// The shipped lexicon alone.
    #[cfg(test)]
    pub fn shipped() -> Lexicon {
        Lexicon::with(&[])
    }

    /// What a word (lower case) means, if the lexicon knows it: itself as a listed word, or
    /// as a verb root with prefixes and an ending.
    pub fn meaning(&self, word: &str) -> Option<&str> {
        if let Some(m) = self.means.get(word) {
            return Some(m);
        }
        if self.roots.is_empty() || !word.is_ascii() {
            return None;
        }
        // Every split into prefixes + root + ending; the longest root wins.
        let mut found: Option<(usize, &str)> = None;
        for start in prefix_chain_ends(word, MAX_PREFIXES) {
            let rest = &word[start..];
            let applicative = APPLICATIVE_ENDINGS.iter().map(|e| (e, true));
            for (ending, needs_long_root) in
                VERB_ENDINGS.iter().map(|e| (e, false)).chain(applicative)
            {
                let Some(root) = rest.strip_suffix(ending) else {
                    continue;
                };
                if root.len() > self.longest_root
                    || ((ending.is_empty() || needs_long_root) && root.len() < ENGLISH_ROOT_LEN)
                {
                    continue;
                }
                if let Some(m) = self.roots.get(root) {
                    if found.is_none_or(|(len, _)| root.len() > len) {
                        found = Some((root.len(), m));
                    }
                }
            }
        }
        found.map(|(_, m)| m)
    }

    /// What two raw words (lower case) said one after the other mean together, if a phrase.
    pub fn phrase(&self, first: &str, second: &str) -> Option<&str> {
        self.phrases
            .get(first)?
            .iter()
            .find(|(w, _)| w == second)
            .map(|(_, m)| m.as_str())
    }

    /// What `raw` reads as: remembered from an earlier call, else `read()`'s answer, remembered.
    pub fn remembered(&self, raw: &str, read: impl FnOnce() -> Option<String>) -> Option<String> {
        if let Some(known) = self.memo.borrow().get(raw) {
            return known.clone();
        }
        let answer = read();
        let mut memo = self.memo.borrow_mut();
        if memo.len() >= MEMO_WORDS {
            memo.clear();
        }
        memo.insert(raw.to_string(), answer.clone());
        answer
    }

    /// The kind of thing a word (as the matcher reads it, text::words) also is: drum → instrument.
    pub fn kind(&self, word: &str) -> Option<&str> {
        self.kinds.get(word).map(String::as_str)
    }

    /// Whether a raw word (lower case) greets or is polite without asking anything.
    pub fn is_greeting(&self, word: &str) -> bool {
        self.greetings.iter().any(|g| g == word)
    }
}

/// How many verb prefixes may be written together before a root.
const MAX_PREFIXES: usize = 4;

/// The byte offsets of `word` (an ASCII word) at which up to `max` verb prefixes written together
/// end, in increasing order; 0 (no prefix) first. One pass over the word: the fewest prefixes
/// that reach each offset (trying every split again for every offset cost most of an ingest's
/// matching, make count).
fn prefix_chain_ends(word: &str, max: usize) -> impl Iterator<Item = usize> + '_ {
    let mut fewest = vec![usize::MAX; word.len() + 1];
    fewest[0] = 0;
    for at in 0..word.len() {
        if fewest[at] >= max {
            continue;
        }
        for prefix in VERB_PREFIXES {
            if word[at..].starts_with(prefix) {
                let end = at + prefix.len();
                fewest[end] = fewest[end].min(fewest[at] + 1);
            }
        }
    }
    (0..word.len()).filter(move |&at| fewest[at] <= max)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn verb_forms_find_their_root_with_any_prefixes_and_endings() {
        let lexicon = Lexicon::shipped();
        for (word, meaning) in [
            ("mnatengeneza", "repair"),
            ("kuitengeneza", "repair"),
            ("hawatengenezi", "repair"),
            ("mnarekebisha", "repair"),
            ("mnafungua", "open"),
            ("mnafunga", "close"),
            ("mtakuwa", "-"),
            ("letewa", "deliver"),
            ("nitaletewa", "deliver"),
            ("mnatuma", "deliver"),
            ("kudeliver", "deliver"),
            ("mnalipisha", "pay"),
            ("sitalipa", "pay"),
            ("mnauza", "sell"),
            ("mnakubali", "accept"),
            ("tumia", "-"),
            ("meza", "-"),
            ("tulip", "-"),
        ] {
            assert_eq!(lexicon.meaning(word).unwrap_or("-"), meaning, "{word}");
        }
    }

    #[test]
    fn the_applicative_ending_only_after_a_long_root() {
        let lexicon = Lexicon::shipped();
        for (word, meaning) in [
            ("mnashughulikia", "handle"),
            ("kunirekebishia", "repair"),
            ("tumia", "-"),
            ("nitumia", "-"),
            ("lipia", "-"),
        ] {
            assert_eq!(lexicon.meaning(word).unwrap_or("-"), meaning, "{word}");
        }
    }

    #[test]
    fn phrases_are_two_words_shipped_or_a_tenants() {
        let lexicon = Lexicon::with(&[
            ("Lay By".into(), "instalment".into()),
            ("boxing day".into(), "boxing".into()),
            ("three word phrase".into(), "skipped".into()),
        ]);
        assert_eq!(lexicon.phrase("lay", "by"), Some("instalment"));
        assert_eq!(
            lexicon.phrase("boxing", "day"),
            Some("boxing"),
            "the tenant's wins"
        );
        assert_eq!(
            lexicon.phrase("payment", "plan"),
            Some("instalment"),
            "shipped"
        );
        assert_eq!(lexicon.phrase("lay", "down"), None);
        assert_eq!(lexicon.phrase("by", "lay"), None, "in its order only");
        assert_eq!(lexicon.phrase("three", "word"), None);
        assert_eq!(lexicon.meaning("lay"), None);
    }

    #[test]
    fn holidays_and_weekends_are_days() {
        let lexicon = Lexicon::shipped();
        assert_eq!(lexicon.kind("weekend"), Some("day"));
        assert_eq!(lexicon.kind("holiday"), Some("day"));
        assert_eq!(lexicon.kind("sunday"), None);
        assert_eq!(lexicon.kind("hour"), None);
    }

    #[test]
    fn a_tenants_words_add_to_the_shipped_ones_and_win() {
        let lexicon = Lexicon::with(&[
            ("Rekebisho".into(), "repair".into()),
            ("send".into(), "send".into()),
            ("pig-".into(), "call".into()),
            (" ".into(), "nothing".into()),
            ("two words".into(), "skipped".into()),
            ("x".into(), "".into()),
        ]);
        assert_eq!(lexicon.meaning("rekebisho"), Some("repair"));
        assert_eq!(lexicon.meaning("send"), Some("send"), "the tenant's wins");
        assert_eq!(lexicon.meaning("nitakupigia"), None, "applicative ending");
        assert_eq!(lexicon.meaning("nipigiwa"), Some("call"));
        assert_eq!(
            lexicon.meaning("mend"),
            Some("repair"),
            "shipped still there"
        );
        assert_eq!(lexicon.meaning("two words"), None);
    }
}
