//! Words of a customer's message or an FAQ entry, as the matcher compares them: lower case,
//! accents folded (café → cafe), split at anything that is not a letter or digit, without the
//! words that say nothing about the topic (English and Swahili), and English plurals and verb
//! endings taken off (guitars → guitar, opening → open). Swahili words pass as they are.

/// Words that carry no topic. Question words that do (where, when, how, much) are kept: a
/// rare word weighs more than a common one anyway (mod.rs).
const STOPWORDS: &[&str] = &[
    // English
    "a", "an", "the", "is", "are", "am", "was", "were", "be", "been", "being", "do", "does", "did",
    "you", "your", "yours", "i", "im", "me", "my", "we", "our", "us", "they", "them", "their",
    "it", "its", "this", "that", "these", "those", "to", "of", "for", "in", "on", "at", "by",
    "with", "and", "or", "but", "if", "so", "as", "from", "can", "could", "would", "will", "shall",
    "should", "may", "might", "please", "pls", "plz", "there", "here", "have", "has", "had", "any",
    "some", "what", "which", "who", "whom", "whose", "just", "also", "too", "very", "really",
    "about", "u", "ur", "r", "n", "need", "want", "wanted", "like", "looking", "get", "got",
    "know", "tell", "let", "help",
    // What is left of a contraction split at its apostrophe (I'm, what's, don't, you're, ...)
    "s", "t", "d", "m", "ll", "re", "ve", // Swahili
    "na", "ya", "wa", "za", "la", "kwa", "ni", "je", "hii", "hiyo", "huu", "pia", "tu", "sana",
    "mimi", "wewe", "nyinyi", "sisi", "yangu", "yako", "bro", "boss", "mpaka", "hadi",
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
    if n > 5 && w.ends_with("ing") {
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

/// The words of a text, in order, repeated as often as they occur.
pub fn words(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| {
            SHORTHAND
                .iter()
                .find(|(short, _)| *short == w)
                .map_or(w, |(_, long)| long)
        })
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(stem)
        .collect()
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

    #[test]
    fn words_fold_case_accents_plurals_and_drop_what_says_nothing() {
        assert_eq!(words("Do you sell GUITARS?"), ["sell", "guitar"]);
        assert_eq!(words("What are your opening hours"), ["open", "hour"]);
        assert_eq!(words("Café deliveries, please!"), ["cafe", "delivery"]);
        assert_eq!(words("Where is the shop?"), ["where", "shop"]);
        assert_eq!(words("Mnafungua saa ngapi?"), ["mnafungua", "saa", "ngapi"]);
        assert_eq!(words("asante sana"), ["asante"]);
        assert_eq!(
            words("boxes classes glass bus"),
            ["box", "class", "glass", "bus"]
        );
        assert!(words("is it the?").is_empty());
        assert_eq!(
            words("what's ur opening hrs"),
            ["open", "hour"],
            "shorthand and contractions"
        );
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
