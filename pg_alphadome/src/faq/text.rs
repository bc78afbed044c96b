//! Words of a customer's message or an FAQ entry, as the matcher compares them: lower case,
//! accents folded (café → cafe), split at anything that is not a letter or digit, without the
//! words that say nothing about the topic (English and Swahili), read through the lexicon
//! (lexicon.rs: mend → repair, mnatengeneza → repair) and with English plurals and verb endings
//! taken off (guitars → guitar, opening → open).
//!
//! Two words the lexicon knows together are read as the one word they mean (boxing day →
//! holiday, payment plan → instalment, send me → nothing: "send me your paybill" asks for it).
//!
//! A customer's message is read for its question: of a message of several sentences, the ones
//! that ask (end in "?") unless one points back ("do you sell those?"), else its last sentence
//! is marked; the greetings and politeness before the question and the thanks after it are
//! marked, so the matcher can leave them out (rank.rs); a sale or a payment said of "I" is read
//! from the shop's side; and which words follow each other directly ("guitar lessons") or with a
//! hyphen ("left-handed"), which rank.rs reads as naming one thing.
use super::lexicon::Lexicon;

/// Words that carry no topic. Question words that do (where, when, how, much) are kept: a
/// rare word weighs more than a common one anyway (mod.rs).
#[rustfmt::skip]
const STOPWORDS: &[&str] = &[
    // English
    "a", "an", "the", "is", "are", "am", "was", "were", "be", "been", "being", "do", "does", "did",
    "you", "your", "yours", "i", "im", "me", "my", "we", "our", "us", "they", "them", "their",
    "it", "its", "this", "that", "these", "those", "to", "of", "for", "in", "on", "at", "by",
    "with", "and", "or", "but", "if", "so", "as", "from", "can", "could", "would", "will", "shall",
    "should", "may", "might", "please", "pls", "plz", "there", "here", "have", "has", "had", "any",
    "some", "what", "which", "who", "whom", "whose", "just", "also", "too", "very", "really",
    "about", "few", "several", "u", "ur", "r", "n", "need", "want", "wanted", "like", "looking", "get", "got",
    "know", "tell", "let", "help",
    // Politeness, forms of address, requests and "things" (issue 29)
    "kindly", "guys", "sir", "madam", "dear", "share", "show", "give", "thing", "things", "stuff",
    // What is left of a contraction split at its apostrophe (I'm, what's, don't, you're, ...)
    "s", "t", "d", "m", "ll", "re", "ve",
    // Swahili
    "na", "ya", "wa", "za", "la", "kwa", "ni", "je", "hii", "hiyo", "huu", "pia", "tu", "sana",
    "mimi", "wewe", "nyinyi", "sisi", "yangu", "yako",
    // Whose (my, your, our, their) in the noun classes customers write most
    "yake", "yetu", "yenu", "yao", "wangu", "wako", "wetu", "wenu", "zangu", "zako", "zetu", "zenu",
    "langu", "lako", "letu", "lenu", "changu", "chako", "chetu", "chenu", "vyangu", "vyako", "vyenu", "bro", "boss", "mpaka", "hadi",
    "tafadhali", "naomba", "nipe", "ama", "vitu", "kitu",
    // Who the item is for and who is asked: context, not the topic (issue 29)
    "someone", "somebody", "anyone", "people", "only", "kid", "kids", "child", "children", "son",
    "daughter", "wife", "husband", "friend", "mtoto", "watoto",
    "needs", "wants", "keeps", "makes", "during", "exactly", "bado",
    // Filler of a longer message: when, how sure, going and coming (issue 29)
    "yet", "already", "maybe", "perhaps", "actually", "currently", "usually",
    "normally", "possible", "possibly", "able", "even", "ever", "else", "something",
    "anything", "then", "just", "around", "into", "out", "up", "down", "off", "put", "come",
    "coming", "came", "go", "going", "went", "again", "sure", "okay", "hii", "hizo", "hizi",
    "kama", "tena", "kabisa", "hapo", "hapa", "pale", "huko", "such", "halafu", "alafu", "bit", "little", "available",
    // What kind of a thing: "which keyboard brands do you stock?" asks about keyboards
    "brand", "brands", "model", "models", "type", "types", "make", "makes", "aina",
    "kisha",
    "nataka", "nazo", "haswa", "sai", "kwenu", "kutoka", "item", "items", "via",
    "handle",
];

/// Chat shorthand, read as the word it stands for.
const SHORTHAND: &[(&str, &str)] = &[
    ("hrs", "hours"),
    ("hr", "hour"),
    ("wat", "what"),
    ("wht", "what"),
    ("wen", "when"),
    ("whr", "where"),
    ("thx", "thanks"),
    ("tnx", "thanks"),
    ("abt", "about"),
    // Texting shorthand for the shop's concepts (issue 29)
    ("opn", "open"),
    ("clse", "close"),
    ("tym", "time"),
    ("tmrw", "tomorrow"),
    ("tmr", "tomorrow"),
    ("2moro", "tomorrow"),
    ("2day", "today"),
    ("2nite", "tonight"),
    ("hw", "how"),
    ("cn", "can"),
    ("wer", "where"),
    ("whn", "when"),
    ("shp", "shop"),
    ("dlvr", "deliver"),
    ("pymt", "payment"),
    ("pmt", "payment"),
    ("loc", "location"),
];

/// Latin letters with accents, folded to their base letter.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ß' => 's',
        other => other,
    }
}

/// English inflections off, lightly: enough that a plural or an -ing form finds its entry.
fn stem(word: &str) -> String {
    let w = word;
    let n = w.len();
    let cut = |k: usize| w[..n - k].to_string();
    if n > 4 && w.ends_with("ies") {
        return cut(3) + "y";
    }
    if n > 4 && w.ends_with("sses") {
        return cut(2);
    }
    if n > 4
        && ["ches", "shes", "xes", "zes"]
            .iter()
            .any(|e| w.ends_with(e))
    {
        return cut(2);
    }
    // Not when no vowel would be left: "string" is not a form of "str".
    if n > 5 && w.ends_with("ing") && w[..n - 3].contains(['a', 'e', 'i', 'o', 'u', 'y']) {
        return cut(3);
    }
    if n > 4 && w.ends_with("ed") && !w.ends_with("eed") {
        return cut(2);
    }
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return cut(1);
    }
    w.to_string()
}

/// A text in lower case with accents folded.
pub fn lower(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(fold)
        .collect()
}

/// The raw words of a lower-cased text with where each starts (a byte offset), chat shorthand
/// read as the word it stands for.
fn tokens(lowered: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = None;
    let mut found = Vec::new();
    for (at, c) in lowered.char_indices().chain([(lowered.len(), ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                found.push((from, &lowered[from..at]));
                start = None;
            }
            _ => {}
        }
    }
    found.into_iter().map(|(at, w)| {
        let w = SHORTHAND
            .iter()
            .find(|(short, _)| *short == w)
            .map_or(w, |(_, long)| long);
        (at, w)
    })
}

/// Verbs of a sale, as the shop's entries say them: a customer's "I want to buy" is the shop's
/// "sell", and "I want to sell my keyboard" is the shop's "buy" (not "do you sell keyboards");
/// "can I bring it in" is the customer coming (nothing), "can you bring it" a delivery
/// (lexicon.rs); "I paid", "I sent" report what the customer did (lexicon::DONE).
const FROM_THE_SHOPS_SIDE: &[(&str, &str)] = &[
    ("buy", "sell"),
    ("sell", "buy"),
    ("bring", "come"),
    ("brought", "come"),
    ("paid", "done"),
    ("sent", "done"),
    ("ordered", "done"),
    // The same in Swahili, after "naweza", "nataka" (I can, I want): kuuza, to sell
    ("kuuza", "buy"),
    ("niuze", "buy"),
    ("kununua", "sell"),
];

/// Swahili words that say "I" and what the customer means to do ("naweza kuuza gitaa yangu?":
/// can I sell my guitar), like "i" in English.
const I_WANT: &[&str] = &[
    "naweza",
    "nataka",
    "ningependa",
    "nitaweza",
    "naeza",
    "nilitaka",
];

/// How far after "i" its verb may come ("i would like to sell": 4 words).
const SUBJECT_REACH: usize = 4;

/// The raw words of a lower-cased text, two words the lexicon knows as a phrase read as the one
/// word they mean ("boxing day" → holiday), a sale verb of "i" turned to the shop's side.
fn read<'a>(lowered: &'a str, lexicon: &'a Lexicon) -> Vec<&'a str> {
    read_at(lowered, lexicon)
        .into_iter()
        .map(|(_, w)| w)
        .collect()
}

/// read(), with where each word starts.
fn read_at<'a>(lowered: &'a str, lexicon: &'a Lexicon) -> Vec<(usize, &'a str)> {
    let raw: Vec<(usize, &str)> = tokens(lowered).collect();
    let mut read = Vec::new();
    let mut since_i = usize::MAX;
    let mut at = 0;
    while at < raw.len() {
        let (start, word) = raw[at];
        let phrase = raw
            .get(at + 1)
            .and_then(|&(_, next)| lexicon.phrase(word, next));
        at += if phrase.is_some() { 2 } else { 1 };
        let word = phrase.unwrap_or(word);
        let turned = FROM_THE_SHOPS_SIDE
            .iter()
            .find(|(customer, _)| *customer == word && since_i <= SUBJECT_REACH)
            .map_or(word, |(_, shop)| shop);
        since_i = if word == "i" || I_WANT.contains(&word) {
            1
        } else {
            since_i.saturating_add(1)
        };
        read.push((start, turned));
    }
    read
}

/// One raw word as the matcher compares it, or None when it says nothing.
fn normal(raw: &str, lexicon: &Lexicon) -> Option<String> {
    lexicon.remembered(raw, || read_word(raw, lexicon))
}

fn read_word(raw: &str, lexicon: &Lexicon) -> Option<String> {
    if STOPWORDS.contains(&raw) {
        return None;
    }
    let stemmed = stem(raw);
    let word = match lexicon.meaning(raw).or_else(|| lexicon.meaning(&stemmed)) {
        Some(meaning) if STOPWORDS.contains(&meaning) => return None,
        Some(meaning) => stem(meaning),
        None if raw.chars().any(|c| c.is_ascii_digit()) => return clock(raw),
        // A letter alone (the P of "P-45") says nothing.
        None if raw.chars().count() == 1 => return None,
        None => stemmed,
    };
    Some(word)
}

/// A word with digits: a time of day ("7pm", "8am") asks about a time; any other number (a
/// price, a model, a size: "20k", "88") says nothing the FAQ's words could match, and as an
/// unknown word would only dilute the question.
fn clock(raw: &str) -> Option<String> {
    let digits = raw.trim_end_matches("am").trim_end_matches("pm");
    (digits.len() < raw.len() && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| "time".to_string())
}

/// The words of a text, in order, repeated as often as they occur.
pub fn words(text: &str, lexicon: &Lexicon) -> Vec<String> {
    read(&lower(text), lexicon)
        .into_iter()
        .filter_map(|w| normal(w, lexicon))
        .collect()
}

/// A customer's message as the matcher reads it: the words of its question part, and how many
/// of them, at the start, only greet.
pub struct Asked {
    pub words: Vec<String>,
    pub greeting: usize,
    /// How many of them, at the end, only greet or thank ("..., thanks boss").
    pub closing: usize,
    /// Where the question's last clause starts (after its last comma), when it has several:
    /// "Hey, I'm in Kitengela, can you send it?" asks "can you send it".
    pub clause: Option<usize>,
    /// Where the message's last sentence starts, when it has several and none ends in "?":
    /// "Good afternoon. I saw your shop on Instagram. Do you sell Yamaha keyboards" asks the
    /// last.
    pub sentence: Option<usize>,
    /// How many words the last clause has, with those that say nothing ("which keyboards do
    /// you have": 5).
    pub clause_said: usize,
    /// For each word, whether the next word came right after it in the message, nothing
    /// between ("guitar lessons", not "gitaa ya acoustic").
    pub joined: Vec<bool>,
    /// For each word, whether a hyphen joins the next word to it ("left-handed").
    pub hyphened: Vec<bool>,
}

/// Words that point back to a thing named before ("do you sell those?", "mnazo?").
#[rustfmt::skip]
const POINTING_BACK: &[&str] = &[
    "those", "these", "them", "it", "one", "ones", "such", "hizo", "hizi", "hiyo", "hii", "zile",
    "mnazo", "mnayo",
];

/// The part of a message that asks: when it has several sentences and some end in "?", those,
/// unless one of them points back to what came before (POINTING_BACK); else all of it ("I'm in
/// Nyeri. Can you deliver?" asks "Can you deliver?").
pub fn question_part(text: &str) -> String {
    let mut sentences: Vec<(&str, bool)> = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | '\n') {
            sentences.push((&text[start..at], c == '?'));
            start = at + c.len_utf8();
        }
    }
    sentences.push((&text[start..], false));
    sentences.retain(|(s, _)| s.chars().any(char::is_alphanumeric));
    // A question that points back ("... a classical guitar for my daughter. Do you sell
    // those?") is asked of the sentences before it too.
    let points_back = |s: &str| {
        lower(s)
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| POINTING_BACK.contains(&w))
    };
    if sentences.len() > 1
        && sentences.iter().any(|&(_, asks)| asks)
        && !sentences.iter().any(|&(s, asks)| asks && points_back(s))
    {
        sentences
            .iter()
            .filter(|&&(_, asks)| asks)
            .map(|&(s, _)| s)
            .collect::<Vec<_>>()
            .join(" ? ")
    } else {
        text.to_string()
    }
}

/// The words of a message's question part, with its leading greetings counted: "Hi there,
/// mnauza gitaa?" is ["hi", "mnauza" → "sell", "guitar"] with one greeting.
pub fn asked(message: &str, lexicon: &Lexicon) -> Asked {
    let lowered = lower(&question_part(message));
    let mut asked = Asked {
        words: Vec::new(),
        greeting: 0,
        closing: 0,
        clause: None,
        sentence: None,
        clause_said: 0,
        joined: Vec::new(),
        hyphened: Vec::new(),
    };
    let clause_at = lowered.rfind([',', ';']);
    let sentence_at = (!lowered.contains('?'))
        .then(|| {
            lowered
                .trim_end_matches(|c: char| !c.is_alphanumeric())
                .rfind(['.', '!', '\n'])
        })
        .flatten();
    let mut greeting = true;
    let mut last_word: Option<(usize, usize)> = None;
    for (index, (at, raw)) in read_at(&lowered, lexicon).into_iter().enumerate() {
        if sentence_at.is_some_and(|c| at > c) {
            asked.sentence.get_or_insert(asked.words.len());
        }
        if clause_at.is_some_and(|c| at > c) {
            asked.clause.get_or_insert(asked.words.len());
            asked.clause_said += 1;
        }
        let word = normal(raw, lexicon);
        greeting = greeting && (word.is_none() || lexicon.is_greeting(raw));
        if let Some(word) = word {
            if let (Some(last), Some((index_before, from))) = (asked.joined.last_mut(), last_word) {
                *last = index_before + 1 == index
                    && lowered[from..at]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == ' ');
            }
            if let (Some(last), Some((index_before, from))) = (asked.hyphened.last_mut(), last_word)
            {
                *last = index_before + 1 == index
                    && lowered[from..at].trim_start_matches(char::is_alphanumeric) == "-";
            }
            last_word = Some((index, at));
            asked.greeting += usize::from(greeting);
            asked.closing = if lexicon.closes(raw) {
                asked.closing + 1
            } else {
                0
            };
            asked.words.push(word);
            asked.joined.push(false);
            asked.hyphened.push(false);
        }
    }
    asked
}

/// Trigram similarity of two words, as pg_trgm reckons it: the words padded with two spaces
/// before and one after, and the share of their distinct three-letter pieces they have in
/// common (0 to 1).
pub fn similarity(a: &str, b: &str) -> f32 {
    let grams = |w: &str| {
        let padded: Vec<char> = format!("  {w} ").chars().collect();
        let mut set: Vec<[char; 3]> = padded.windows(3).map(|g| [g[0], g[1], g[2]]).collect();
        set.sort_unstable();
        set.dedup();
        set
    };
    let (x, y) = (grams(a), grams(b));
    let shared = x.iter().filter(|g| y.binary_search(g).is_ok()).count();
    let union = x.len() + y.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f32 / union as f32
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Each text with the words it must give, through the shipped lexicon.
    fn read_as(cases: &[(&str, &[&str])]) {
        let shipped = Lexicon::shipped();
        for (text, expected) in cases {
            assert_eq!(words(text, &shipped), *expected, "{text}");
        }
    }

    #[test]
    fn words_fold_case_accents_plurals_and_drop_what_says_nothing() {
        read_as(&[
            ("Do you sell GUITARS?", &["sell", "guitar"]),
            ("What are your opening hours", &["open", "hour"]),
            ("Café deliveries, please!", &["cafe", "deliver"]),
            ("Where is the shop?", &["where", "shop"]),
            ("Mnafungua saa ngapi?", &["open", "time", "ngapi"]),
            ("asante sana", &["asante"]),
            ("boxes watches glass bus", &["box", "watch", "glass", "bus"]),
            ("is it the?", &[]),
            ("what's ur opening hrs", &["open", "hour"]),
        ]);
    }

    #[test]
    fn words_go_through_the_lexicon() {
        read_as(&[
            ("Can you mend it?", &["repair"]),
            ("Mnaweza kuitengeneza gitaa yangu?", &["repair", "guitar"]),
            ("Do you ship to Kisumu", &["deliver", "kisumu"]),
            ("Kindly share your address", &["location"]),
            ("Do you post to Kisumu", &["deliver", "kisumu"]),
            ("payment options", &["pay", "method"]),
            ("Do you stock Korg?", &["sell", "korg"]),
            ("over a few months", &["over", "month"]),
        ]);
    }

    #[test]
    fn two_words_the_lexicon_knows_together_are_read_as_one() {
        read_as(&[
            ("Are you open on Boxing Day?", &["open", "holiday"]),
            (
                "boxing gloves, a day pass",
                &["box", "glove", "day", "pass"],
            ),
            ("payment plans for guitars", &["instalment", "guitar"]),
            ("Send me your paybill", &["paybill"]),
            ("Can you send it to me?", &["deliver"]),
            ("Do you sell drum kits", &["sell", "drum"]),
        ]);
    }

    #[test]
    fn a_word_is_not_stemmed_to_no_vowel() {
        read_as(&[
            ("guitar strings, a string", &["guitar", "string", "string"]),
            ("opening, bringing", &["open", "deliver"]),
        ]);
    }

    #[test]
    fn whose_and_is_at_say_nothing_or_one_thing_in_swahili() {
        read_as(&[
            ("Duka yenu iko wapi?", &["shop", "iko", "where"]),
            ("duka liko wapi", &["shop", "iko", "where"]),
            ("bei zenu", &["price"]),
            ("chenga", &["chenga"]),
        ]);
    }

    #[test]
    fn which_words_follow_each_other_is_kept() {
        let shipped = Lexicon::shipped();
        let asked = asked("guitar lessons, gitaa ya acoustic, left-handed", &shipped);
        assert_eq!(
            asked.words,
            ["guitar", "lesson", "guitar", "acoustic", "left", "hand"]
        );
        assert_eq!(asked.joined, [true, false, false, false, false, false]);
        assert_eq!(asked.hyphened, [false, false, false, false, true, false]);
    }

    #[test]
    fn numbers_say_nothing_but_a_time_of_day_asks_about_time() {
        read_as(&[
            ("open at 7pm", &["open", "time"]),
            (
                "a keyboard above 20k, 88 keys",
                &["keyboard", "above", "key"],
            ),
            ("Yamaha P-45", &["yamaha"]),
        ]);
    }

    #[test]
    fn the_last_sentence_is_marked_when_none_asks() {
        let shipped = Lexicon::shipped();
        let long = asked(
            "Hello. I saw your shop on Instagram! Do you sell Casio",
            &shipped,
        );
        assert_eq!(
            long.words,
            ["hello", "saw", "shop", "instagram", "sell", "casio"]
        );
        assert_eq!(long.sentence, Some(4));
        assert_eq!(
            asked("Hi. Do you deliver? Thanks.", &shipped).sentence,
            None
        );
        assert_eq!(asked("Do you deliver", &shipped).sentence, None);
    }

    #[test]
    fn the_last_clause_of_a_question_is_marked() {
        let shipped = Lexicon::shipped();
        let long = asked("Hey, I'm in Kitengela, can you deliver it?", &shipped);
        assert_eq!(long.words, ["hey", "kitengela", "deliver"]);
        assert_eq!(long.clause, Some(2));
        assert_eq!(asked("Do you deliver?", &shipped).clause, None);
    }

    #[test]
    fn a_sale_said_of_i_is_read_from_the_shops_side() {
        read_as(&[
            (
                "I want to sell my old keyboard",
                &["buy", "old", "keyboard"],
            ),
            ("I'd like to buy a guitar", &["sell", "guitar"]),
            ("Do you sell keyboards?", &["sell", "keyboard"]),
            ("Do you buy used ones", &["buy", "used", "one"]),
            ("Naweza kuuza gitaa yangu kwenu?", &["buy", "guitar"]),
            ("Mnaweza kuuza gitaa?", &["sell", "guitar"]),
            ("Can a rider bring it?", &["deliver", "deliver"]),
            ("Can I bring my guitar for repair?", &["guitar", "repair"]),
        ]);
    }

    #[test]
    fn the_question_part_is_the_sentences_that_ask() {
        assert_eq!(
            question_part("I'm in Nyeri. Can you deliver?"),
            " Can you deliver"
        );
        assert_eq!(
            question_part("Good evening! what time"),
            "Good evening! what time"
        );
        assert_eq!(question_part("Open today?"), "Open today?");
        assert_eq!(question_part("Hi. A? B. C?"), " A ?  C");
        assert_eq!(
            question_part("I need a bass guitar. Do you sell those?"),
            "I need a bass guitar. Do you sell those?",
            "a question that points back"
        );
    }

    #[test]
    fn leading_greetings_are_counted_and_only_leading_ones() {
        let shipped = Lexicon::shipped();
        let hi = asked("Hi there, good morning, mnauza gitaa?", &shipped);
        assert_eq!(hi.words, ["hi", "good", "morn", "sell", "guitar"]);
        assert_eq!(hi.greeting, 3);
        let late = asked("mnauza gitaa, boss? hello", &shipped);
        assert_eq!(late.greeting, 0);
        assert_eq!(asked("Habari yako?", &shipped).greeting, 1);
    }

    #[test]
    fn a_topic_is_read_as_itself() {
        let shipped = Lexicon::shipped();
        for topic in super::super::lexicon::SHIPPED_TOPICS {
            assert_eq!(words(topic, &shipped), [*topic], "{topic}");
        }
        read_as(&[
            ("Where can I park?", &["where", "park"]),
            ("How much is it, bei gani?", &["price", "price", "gani"]),
            ("Do you teach? Mnafundisha?", &["lesson", "lesson"]),
        ]);
    }

    #[test]
    fn thanks_and_greetings_at_the_end_are_counted() {
        let shipped = Lexicon::shipped();
        let thanks = asked("How late are you open on Fridays, thanks msee", &shipped);
        assert_eq!(thanks.words, ["time", "open", "friday", "thank", "msee"]);
        assert_eq!(thanks.closing, 2);
        assert_eq!(
            asked("Thanks, I will pass by on Saturday", &shipped).greeting,
            0,
            "thanks before anything else is the message, not a greeting"
        );
        assert_eq!(asked("Do you deliver?", &shipped).closing, 0);
    }

    #[test]
    fn similar_words_are_close_and_different_ones_are_not() {
        assert_eq!(similarity("guitar", "guitar"), 1.0);
        assert!(similarity("instalment", "installment") > 0.6);
        assert_eq!(
            similarity("deliver", "delivr"),
            0.5,
            "5 of 10 distinct trigrams shared, as pg_trgm counts"
        );
        assert!(similarity("guitar", "keyboard") < 0.1);
    }
}
