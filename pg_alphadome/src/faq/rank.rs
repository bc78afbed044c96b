//! Ranking a tenant's FAQ for a message: one implementation for match_faq and for ingest's
//! decision, so the two always agree.
//!
//! An entry is its question, its alternate phrasings (`phrasings`: how customers also ask it),
//! its answer and its category. Its score is
//!
//! ```text
//! 0.7 × (how much of the message the entry covers) + 0.3 × (how much of its best-covered question the message covers)
//! ```
//!
//! where a message word found in any of its questions counts 1, in the answer 0.6, in the category 0.3,
//! a misspelt one the square root of its trigram similarity to the word it resembles (which
//! must be at least 0.45, as pg_trgm reckons similarity), and every
//! word weighs its rarity among the tenant's entries: ln(1 + entries / entries with the word).
//! A word no entry has weighs three quarters of a word one entry has (words no entry has joined
//! by a hyphen, "left-handed", weigh as one). An item (a word with a kind: guitar, Casio) is
//! what is asked about: an entry that has only the message's items and none of its other
//! words of an entry's questions (the keyboards' entry for "can you send the keyboard?") counts
//! them half, and in a message that asks something of an item the item weighs half its rarity;
//! a place no entry names weighs half of an unknown word. "Do you have" reads as "do you sell"
//! unless the message names a service. Scores are rounded to four places, so ties are ties;
//! among equal scores the lowest id comes first. The best entry answers alone only when nothing
//! in the message doubts it (Faq::answer): another entry's question, a thing no entry knows, a
//! topic it lacks (a price, lessons), or only items and a place for an entry that names none.
//!
//! An inverted index (word → entries) keeps a message from being scored against every entry:
//! only entries sharing a word, or a word that resembles one, are scored.
use super::lexicon::Lexicon;
use super::text::{asked, similarity, words, Asked};
use std::collections::HashMap;

/// A typo must resemble its word at least this much.
const TYPO_SIMILARITY: f32 = 0.45;
/// Words shorter than this are compared exactly (a trigram of "hi" says little).
const TYPO_MIN_LEN: usize = 4;
/// The weight of a word no entry has, against that of a word only one entry has: a word the
/// FAQ does not know may be what the question is about ("a branch in Mombasa").
const UNKNOWN_WEIGHT: f32 = 0.75;

/// The weight of a place no entry names (a town, a county, an estate: lexicon.rs, PLACES),
/// against that of a word no entry has: where the customer is or wants a thing sent sets the
/// scene of the question ("can you send it to Nakuru?") more than it is the question.
const PLACE_WEIGHT: f32 = 0.5;

/// A last clause of fewer words is too little to answer by ("..., mmeipata?": received it?).
const MIN_CLAUSE_WORDS: usize = 2;
/// Another entry's question covered beyond this share by words the best entry lacks
/// contradicts it (see Faq::answer).
const CONTRADICTS: f32 = 0.5;

/// How much an item counts for an entry that has none of the message's other known words.
const ITEM_ALONE: f32 = 0.5;

/// How much an item weighs, against its rarity, in a message that asks something of it (not
/// only about it): "can you send a guitar to Nakuru?" asks about delivery.
const ITEM_WITH_A_QUESTION: f32 = 0.5;

/// Letters of a model's code after an item ("PX", "DS"), which names no other thing.
const MODEL_CODE_LEN: usize = 2;

/// How much an item counts as its kind (a drum as an instrument), against the word itself.
const KIND_MATCH: f32 = 0.8;

/// "Do you have" or "do you carry", as the lexicon reads it, and what it asks of a shop when it
/// names no service.
const HAVE: &str = "carry";
const SELL: &str = "sell";
/// "How much" in Swahili, and what it asks of an item (a topic, lexicon.rs).
const HOW_MUCH: &str = "ngapi";
const PRICE: &str = "price";
/// The kind of a holiday or a weekend (lexicon.rs).
const DAY: &str = "day";
/// An offer had (lexicon.rs, a topic).
const DISCOUNT: &str = "discount";

/// One active FAQ or canned-reply row as read from the table.
pub struct Row {
    pub id: i64,
    pub data_type: String,
    pub question: String,
    pub phrasings: Vec<String>,
    pub answer: String,
    pub category: String,
}

struct Entry {
    row: Row,
    /// The question's words, then each phrasing's.
    questions: Vec<Vec<usize>>,
    answer: Vec<usize>,
    category: Vec<usize>,
    /// Whether its questions, answer or category name a place (lexicon.rs, PLACES): "within
    /// Nairobi", "can you deliver to Mombasa".
    names_a_place: bool,
    /// Whether they name an instrument (a word of kind "instrument": guitars, drums).
    names_an_instrument: bool,
}

impl Entry {
    /// Every word of its questions, answer and category.
    fn words(&self) -> impl Iterator<Item = &usize> + Clone {
        self.questions
            .iter()
            .flatten()
            .chain(&self.answer)
            .chain(&self.category)
    }

    fn has(&self, word: usize) -> bool {
        self.words().any(|&e| e == word)
    }
}

/// A tenant's FAQ, indexed for ranking.
pub struct Faq {
    entries: Vec<Entry>,
    /// The shipped words and the tenant's, through which entries and messages are read.
    lexicon: Lexicon,
    /// Every word of the entries, by number.
    vocabulary: Vec<String>,
    number: HashMap<String, usize>,
    /// Rarity of each word of the vocabulary.
    idf: Vec<f32>,
    /// The weight of a word no entry has.
    unknown_idf: f32,
    /// Whether each word of the vocabulary is in an entry's question or phrasings.
    in_questions: Vec<bool>,
    /// Word → the entries that have it (sorted, distinct).
    postings: Vec<Vec<u32>>,
    /// Trigram → the words of the vocabulary (long enough for typos) that have it.
    trigrams: HashMap<[char; 3], Vec<usize>>,
}

/// What, in a message, may keep the best entry from answering it alone (Faq::answer).
struct Doubts {
    /// An item names a thing no entry knows ("guitar lessons").
    unknown_thing: bool,
    /// The words of the question (after its greetings; of its last sentence, when that is the
    /// question: Asked::sentence) that name a question of their own (lexicon.rs,
    /// SHIPPED_TOPICS: price, lessons, ...).
    topics: Vec<String>,
}

/// One message word as the entries know it: the vocabulary words it is (or resembles), with
/// how much, and its weight.
struct Said {
    matches: Vec<(usize, f32)>,
    idf: f32,
    /// A greeting or politeness ("vipi"): it contradicts no entry.
    greets: bool,
    /// An item of a kind (guitar, Casio): what the message asks about it (deliver, repair, pay
    /// by instalments) is its topic; it contradicts no entry.
    item: bool,
    /// The kind the word matches as an item (instrument, for a drum), not as itself.
    kind: Option<usize>,
    /// A place (lexicon.rs, PLACES).
    place: bool,
}

fn trigrams_of(word: &str) -> Vec<[char; 3]> {
    let padded: Vec<char> = format!("  {word} ").chars().collect();
    let mut grams: Vec<[char; 3]> = padded.windows(3).map(|g| [g[0], g[1], g[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl Faq {
    pub fn build(rows: Vec<Row>, lexicon: Lexicon) -> Faq {
        let mut vocabulary: Vec<String> = Vec::new();
        let mut number: HashMap<String, usize> = HashMap::new();
        let mut intern = |text: &str| -> Vec<usize> {
            words(text, &lexicon)
                .into_iter()
                .map(|w| {
                    *number.entry(w.clone()).or_insert_with(|| {
                        vocabulary.push(w);
                        vocabulary.len() - 1
                    })
                })
                .collect()
        };
        let mut entries: Vec<Entry> = rows
            .into_iter()
            .map(|row| {
                let mut questions = vec![intern(&row.question)];
                questions.extend(row.phrasings.iter().map(|p| intern(p)));
                let answer = intern(&row.answer);
                let category = intern(&row.category);
                Entry {
                    row,
                    questions,
                    answer,
                    category,
                    names_a_place: false,
                    names_an_instrument: false,
                }
            })
            .collect();
        for entry in &mut entries {
            let names_a_place = entry.words().any(|&w| lexicon.is_place(&vocabulary[w]));
            let names_an_instrument = entry
                .words()
                .any(|&w| lexicon.kind(&vocabulary[w]) == Some("instrument"));
            entry.names_a_place = names_a_place;
            entry.names_an_instrument = names_an_instrument;
        }
        let mut in_questions = vec![false; vocabulary.len()];
        for &w in entries.iter().flat_map(|e| e.questions.iter().flatten()) {
            in_questions[w] = true;
        }
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); vocabulary.len()];
        for (at, entry) in entries.iter().enumerate() {
            for &w in entry.words() {
                if postings[w].last() != Some(&(at as u32)) {
                    postings[w].push(at as u32);
                }
            }
        }
        let n = entries.len().max(1) as f32;
        let idf: Vec<f32> = postings
            .iter()
            .map(|p| (1.0 + n / p.len().max(1) as f32).ln())
            .collect();
        let mut trigrams: HashMap<[char; 3], Vec<usize>> = HashMap::new();
        for (w, word) in vocabulary.iter().enumerate() {
            if word.chars().count() >= TYPO_MIN_LEN {
                for gram in trigrams_of(word) {
                    trigrams.entry(gram).or_default().push(w);
                }
            }
        }
        Faq {
            entries,
            lexicon,
            vocabulary,
            number,
            idf,
            unknown_idf: UNKNOWN_WEIGHT * (1.0 + n).ln(),
            in_questions,
            postings,
            trigrams,
        }
    }

    pub fn row(&self, at: usize) -> &Row {
        &self.entries[at].row
    }

    /// The message's distinct words, each with the vocabulary words it is or resembles: of its
    /// question part, without the greetings before the question ("Hi, mnauza gitaa?" asks about
    /// guitars). When nothing after the greetings is a word of an entry's questions, the
    /// greetings are the message ("Good evening Kassangas!" greets).
    ///
    /// Of a question of several clauses, the last one, when it has a word of an entry's
    /// questions: what comes before it sets the scene ("Hey, I'm in Kitengela, can you bring
    /// it?"); else the whole question.
    fn understand(&self, message: &str) -> (Vec<Said>, Doubts) {
        let mut asked = asked(message, &self.lexicon);
        self.read_have(&mut asked.words);
        self.read_how_much(&mut asked.words);
        let unknown_thing = self.names_an_unknown_thing(&asked);
        // The topics of the question read from `from` on: of the whole question (after its
        // greetings), or of its last sentence when the part read is in it (the sentences
        // before set the scene: "... my son wants to learn. Do you sell Yamaha keyboards").
        let doubts = |from: usize| {
            let from = match asked.sentence {
                Some(sentence) if from >= sentence => sentence,
                _ => asked.greeting,
            };
            Doubts {
                unknown_thing,
                topics: asked.words[from..]
                    .iter()
                    .filter(|w| self.lexicon.is_topic(w))
                    .cloned()
                    .collect(),
            }
        };
        let asks = |said: &[Said]| {
            said.iter()
                .any(|s| s.matches.iter().any(|&(w, _)| self.in_questions[w]))
        };
        // Without the thanks and greetings at its end ("..., thanks boss"), unless that is all.
        let end = asked.words.len() - asked.closing;
        let end = if end > asked.greeting {
            end
        } else {
            asked.words.len()
        };
        if let Some(clause) = asked
            .clause
            .filter(|&c| c > asked.greeting && end >= c + MIN_CLAUSE_WORDS)
        {
            let last_clause = self.said(&asked.words[clause..end], &asked.hyphened[clause..end]);
            if asks(&last_clause) {
                return (last_clause, doubts(clause));
            }
        }
        // Of a message of several sentences none of which ends in "?", the last one, when it
        // asks ("Good afternoon. I saw your shop online. Do you sell Yamaha keyboards").
        if let Some(sentence) = asked
            .sentence
            .filter(|&c| c > asked.greeting && end >= c + MIN_CLAUSE_WORDS)
        {
            let last_sentence =
                self.said(&asked.words[sentence..end], &asked.hyphened[sentence..end]);
            if asks(&last_sentence) {
                return (last_sentence, doubts(sentence));
            }
        }
        let after_greetings = self.said(
            &asked.words[asked.greeting..end],
            &asked.hyphened[asked.greeting..end],
        );
        if asks(&after_greetings) {
            return (after_greetings, doubts(asked.greeting));
        }
        (self.said(&asked.words, &asked.hyphened), doubts(0))
    }

    /// "Do you have" (mko na, mna) asks whether the shop sells what follows, an item or a kind
    /// ("do you have Fender Telecasters?"), unless the message names something else an entry's
    /// questions know, a service ("do you have payment plans?"): then it says nothing. "Offer"
    /// reads as "have" ("do you offer delivery?"), but right after "have" it is a thing had, a
    /// discount ("mko na offer ya keyboards?").
    fn read_have(&self, words: &mut [String]) {
        if !words.iter().any(|w| w == HAVE) {
            return;
        }
        for at in 1..words.len() {
            if words[at - 1] == HAVE && words[at] == HAVE {
                words[at] = DISCOUNT.to_string();
            }
        }
        let names_a_service = words.iter().any(|w| {
            w != HAVE
                && self.lexicon.kind(w).is_none()
                && !self.lexicon.is_greeting(w)
                && self.number.get(w).is_some_and(|&n| self.in_questions[n])
        });
        for word in words.iter_mut().filter(|w| *w == HAVE) {
            *word = if names_a_service {
                String::new()
            } else {
                SELL.to_string()
            };
        }
    }

    /// "Ngapi" (how much, how many) of a thing on sale asks its price ("gitaa ni ngapi?"); of
    /// the clock the time ("saa ngapi weekends?": a weekend is a day, not a thing on sale), of a
    /// till its number.
    fn read_how_much(&self, words: &mut [String]) {
        let on_sale = |w: &String| self.lexicon.kind(w).is_some_and(|k| k != DAY);
        if words.iter().any(on_sale) {
            for word in words.iter_mut().filter(|w| *w == HOW_MUCH) {
                *word = PRICE.to_string();
            }
        }
    }

    /// Whether the message names a thing no entry knows by an item said right before it:
    /// "guitar lessons", "violin bow" are not guitars or violins, and what
    /// is asked about them is the LLM's to answer. (Swahili names the thing first and joins
    /// with ya, za: "gitaa ya acoustic" is not joined.)
    fn names_an_unknown_thing(&self, asked: &Asked) -> bool {
        // Not two letters: a model's code ("Privia PX-S1100", "Juno DS").
        let unknown = |w: &String| {
            w.chars().count() > MODEL_CODE_LEN
                && !self.number.contains_key(w)
                && self.lexicon.kind(w).is_none()
                && !self.lexicon.is_place(w)
                && !self.resembles_a_word(w)
        };
        asked.words.iter().enumerate().any(|(at, word)| {
            asked.joined[at]
                && self.lexicon.kind(word).is_some()
                && asked.words.get(at + 1).is_some_and(unknown)
        })
    }

    /// Whether a word no entry has is a typo of one that an entry has.
    fn resembles_a_word(&self, word: &str) -> bool {
        word.chars().count() >= TYPO_MIN_LEN
            && trigrams_of(word)
                .iter()
                .filter_map(|g| self.trigrams.get(g))
                .flatten()
                .any(|&w| similarity(word, &self.vocabulary[w]) >= TYPO_SIMILARITY)
    }

    /// The distinct words of `message`, read; `hyphened` says which are joined to the next
    /// by a hyphen (Asked::hyphened). Words no entry knows written as one with a hyphen name
    /// one thing ("left-handed") and weigh as one.
    fn said(&self, message: &[String], hyphened: &[bool]) -> Vec<Said> {
        let mut seen: Vec<&String> = Vec::new();
        let mut said = Vec::new();
        let mut unknown_before = false;
        for (at, word) in message.iter().enumerate() {
            if word.is_empty() {
                continue;
            }
            let follows_unknown = unknown_before && at > 0 && hyphened[at - 1];
            unknown_before = false;
            if seen.contains(&word) {
                continue;
            }
            seen.push(word);
            // An item also counts, a little less, as the kind of thing it is (drum: an
            // instrument), when an entry's questions name that kind (not an answer's "next
            // day" for a Saturday).
            let kind = self
                .lexicon
                .kind(word)
                .and_then(|k| self.number.get(k))
                .filter(|&&k| self.in_questions[k])
                .map(|&k| (k, KIND_MATCH));
            let item = self.lexicon.kind(word).is_some();
            if let Some(&w) = self.number.get(word) {
                said.push(Said {
                    matches: std::iter::once((w, 1.0)).chain(kind).collect(),
                    idf: self.idf[w],
                    greets: self.lexicon.is_greeting(word),
                    item,
                    kind: kind.map(|(k, _)| k),
                    place: self.lexicon.is_place(word),
                });
                continue;
            }
            if let Some((k, how)) = kind {
                said.push(Said {
                    matches: vec![(k, how)],
                    idf: self.idf[k],
                    greets: false,
                    item,
                    kind: Some(k),
                    place: false,
                });
                continue;
            }
            let mut resembles: Vec<(usize, f32)> = Vec::new();
            let place = self.lexicon.is_place(word);
            if word.chars().count() >= TYPO_MIN_LEN && !place {
                let mut candidates: Vec<usize> = trigrams_of(word)
                    .iter()
                    .filter_map(|g| self.trigrams.get(g))
                    .flatten()
                    .copied()
                    .collect();
                candidates.sort_unstable();
                candidates.dedup();
                // A misspelt word counts by the square root of its similarity: "delivr" (0.5
                // like "deliver") counts 0.71 of it.
                resembles = candidates
                    .into_iter()
                    .map(|w| (w, similarity(word, &self.vocabulary[w])))
                    .filter(|(_, s)| *s >= TYPO_SIMILARITY)
                    .map(|(w, s)| (w, s.sqrt()))
                    .collect();
            }
            unknown_before = resembles.is_empty();
            let unknown_idf = if follows_unknown {
                0.0
            } else if place {
                self.unknown_idf * PLACE_WEIGHT
            } else {
                self.unknown_idf
            };
            let idf = resembles
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(unknown_idf, |&(w, _)| self.idf[w]);
            said.push(Said {
                matches: resembles,
                idf,
                greets: self.lexicon.is_greeting(word),
                item,
                kind: None,
                place,
            });
        }
        said
    }

    fn score(&self, entry: &Entry, said: &[Said]) -> f32 {
        // An item is what is asked about, not the question: an entry that has none of the
        // message's other words an entry knows ("can you send the guitar?": send) counts its
        // items ITEM_ALONE; and in a message that asks something of an item, the item weighs
        // ITEM_WITH_A_QUESTION of its rarity ("can a rider bring the keyboard?" asks about
        // delivery).
        let asks_more =
            |s: &Said| !s.item && !s.greets && s.matches.iter().any(|&(w, _)| self.in_questions[w]);
        let asks_of_an_item = said.iter().any(asks_more);
        let weight = |s: &Said| {
            if s.item && asks_of_an_item {
                s.idf * ITEM_WITH_A_QUESTION
            } else {
                s.idf
            }
        };
        let total: f32 = said.iter().map(weight).sum();
        if total == 0.0 {
            return 0.0;
        }
        let found_in = |s: &Said, words: &[usize]| -> f32 {
            s.matches
                .iter()
                .filter(|(w, _)| words.contains(w))
                .map(|&(_, how)| how)
                .fold(0.0, f32::max)
        };
        let in_questions = |s: &Said| {
            entry
                .questions
                .iter()
                .map(|q| found_in(s, q))
                .fold(0.0, f32::max)
        };
        let asked: Vec<f32> = said.iter().map(in_questions).collect();
        let items_alone = asks_of_an_item
            && !said
                .iter()
                .zip(&asked)
                .any(|(s, &found)| asks_more(s) && found > 0.0);
        // How much of the message the entry covers: a word found in any of its questions
        // counts 1, in its answer 0.6, in its category 0.3.
        let covered: f32 = said
            .iter()
            .zip(&asked)
            .map(|(s, &found)| {
                let alone = if s.item && items_alone {
                    ITEM_ALONE
                } else {
                    1.0
                };
                weight(s)
                    * alone
                    * found
                        .max(0.6 * found_in(s, &entry.answer))
                        .max(0.3 * found_in(s, &entry.category))
            })
            .sum();
        // How much of its best-covered question the message covers.
        let mut question_covered = 0.0f32;
        for question in &entry.questions {
            let mut asked: Vec<usize> = question.clone();
            asked.sort_unstable();
            asked.dedup();
            let asked_weight: f32 = asked.iter().map(|&w| self.idf[w]).sum();
            if asked_weight == 0.0 {
                continue;
            }
            let found: f32 = asked
                .iter()
                .map(|&w| {
                    let how = said
                        .iter()
                        .flat_map(|s| s.matches.iter())
                        .filter(|(m, _)| *m == w)
                        .map(|&(_, how)| how)
                        .fold(0.0, f32::max);
                    self.idf[w] * how
                })
                .sum();
            question_covered = question_covered.max(found / asked_weight);
        }
        let best = 0.7 * covered / total + 0.3 * question_covered;
        (best * 10_000.0).round() / 10_000.0
    }

    /// The `max` best entries for a message, above a score of 0, best first (ties: lowest id).
    pub fn rank(&self, message: &str, max: usize) -> Vec<(usize, f32)> {
        self.rank_said(&self.understand(message).0, max)
    }

    /// The entry to answer a message with, without the LLM: the best one when it is a clear
    /// answer (clear_answer) and nothing in the message contradicts it, that is when the words
    /// it lacks, other than items, do not make up most of another entry's question ("can I pay
    /// in instalments, and do you deliver?" asks about both, and the LLM gets both; "... for
    /// the keyboard?" asks about instalments), and no item names a thing no entry knows
    /// ("guitar lessons"), and the message is not only items and a place when the entry names no
    /// place ("can you get a keyboard to me in Nyeri?" is no question for the keyboards' entry).
    pub fn answer(&self, message: &str, confidence: f32) -> Option<(usize, f32)> {
        let (said, doubts) = self.understand(message);
        let (best, score) = clear_answer(&self.rank_said(&said, 2), confidence)?;
        (!doubts.unknown_thing
            && self.names_a_word_of_its_questions(best, &said)
            && self.knows_its_topics(best, &doubts.topics)
            && !self.only_items_and_a_place(best, &said)
            && !self.names_an_instrument_it_lacks(best, &said)
            && !self.contradicted(best, &said))
        .then_some((best, score))
    }

    /// Whether the message says only items and a place, nothing else an entry's questions
    /// know, and the entry names no place: a thing wanted somewhere is a delivery or a branch,
    /// not whether the shop sells it.
    fn only_items_and_a_place(&self, best: usize, said: &[Said]) -> bool {
        let asks_more =
            |s: &Said| !s.item && !s.greets && s.matches.iter().any(|&(w, _)| self.in_questions[w]);
        !self.entries[best].names_a_place
            && said.iter().any(|s| s.place)
            && !said.iter().any(asks_more)
    }

    /// Whether the message names an instrument (a word of kind "instrument": violin, saxophone)
    /// that the entry's words do not, where the entry lists the instruments it is about: "do you
    /// repair violins?" is not answered by "we repair guitars, keyboards, drums and amplifiers",
    /// whose "yes" would be wrong. An entry that names no instrument (payments) is not concerned.
    fn names_an_instrument_it_lacks(&self, best: usize, said: &[Said]) -> bool {
        let Some(&instrument) = self.number.get("instrument") else {
            return false;
        };
        let entry = &self.entries[best];
        entry.names_an_instrument
            && said.iter().any(|s| {
                s.item
                    && s.kind == Some(instrument)
                    && !s
                        .matches
                        .iter()
                        .any(|&(w, _)| w != instrument && entry.has(w))
            })
    }

    /// Whether a message word itself (not only its kind) is a word of the entry's questions:
    /// "Tell me about your drums" fits "Do you repair instruments?" through the drum's kind
    /// alone, and asks nothing about repairs.
    fn names_a_word_of_its_questions(&self, best: usize, said: &[Said]) -> bool {
        let questions = &self.entries[best].questions;
        said.iter().any(|s| {
            s.matches
                .iter()
                .any(|&(w, _)| Some(w) != s.kind && questions.iter().any(|q| q.contains(&w)))
        })
    }

    /// Whether the entry has every word of the message that names a question of its own
    /// (SHIPPED_TOPICS): "do you teach guitar?" asks about lessons, which the guitars' entry
    /// does not mention; "how much is delivery?" asks what the deliveries' answer tells (its fees).
    /// Of the whole question, not only its last clause: "which guitar is best for a beginner,
    /// acoustic or electric?" asks for advice.
    fn knows_its_topics(&self, best: usize, topics: &[String]) -> bool {
        let entry = &self.entries[best];
        topics
            .iter()
            .all(|topic| self.number.get(topic).is_some_and(|&w| entry.has(w)))
    }

    fn contradicted(&self, best: usize, said: &[Said]) -> bool {
        let entry = &self.entries[best];
        let lacked: Vec<&Said> = said
            .iter()
            .filter(|s| {
                !s.greets
                    && !s.item
                    && !s.matches.is_empty()
                    && !s.matches.iter().any(|&(w, _)| entry.has(w))
            })
            .collect();
        let mut others: Vec<u32> = lacked
            .iter()
            .flat_map(|s| s.matches.iter())
            .flat_map(|&(w, _)| self.postings[w].iter().copied())
            .filter(|&at| at as usize != best)
            .collect();
        others.sort_unstable();
        others.dedup();
        others.into_iter().any(|at| {
            self.entries[at as usize].questions.iter().any(|question| {
                let mut asked = question.clone();
                asked.sort_unstable();
                asked.dedup();
                let weight: f32 = asked.iter().map(|&w| self.idf[w]).sum();
                let found: f32 = asked
                    .iter()
                    .map(|&w| {
                        let how = lacked
                            .iter()
                            .flat_map(|s| s.matches.iter())
                            .filter(|(m, _)| *m == w)
                            .map(|&(_, how)| how)
                            .fold(0.0, f32::max);
                        self.idf[w] * how
                    })
                    .sum();
                weight > 0.0 && found / weight > CONTRADICTS
            })
        })
    }

    fn rank_said(&self, said: &[Said], max: usize) -> Vec<(usize, f32)> {
        let mut candidates: Vec<u32> = said
            .iter()
            .flat_map(|s| s.matches.iter())
            .flat_map(|&(w, _)| self.postings[w].iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut ranked: Vec<(usize, f32)> = candidates
            .into_iter()
            .map(|at| (at as usize, self.score(&self.entries[at as usize], said)))
            .filter(|&(_, score)| score > 0.0)
            .collect();
        ranked.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(self.entries[a.0].row.id.cmp(&self.entries[b.0].row.id))
        });
        ranked.truncate(max);
        ranked
    }
}

/// The answer to send without the LLM, if the FAQ answers the message clearly: the best entry
/// scores at least `confidence` and stands out from the next by `MARGIN`. Two entries that fit
/// about as well mean the message is not understood well enough to answer without the LLM: a
/// wrong answer sent with confidence is worse than none.
pub fn clear_answer(ranked: &[(usize, f32)], confidence: f32) -> Option<(usize, f32)> {
    const MARGIN: f32 = 0.1;
    let &(best, score) = ranked.first()?;
    let runner_up = ranked.get(1).map_or(0.0, |r| r.1);
    (score >= confidence && score - runner_up >= MARGIN).then_some((best, score))
}

#[cfg(test)]
mod unit {
    use super::*;

    fn row(id: i64, question: &str, phrasings: &[&str], answer: &str) -> Row {
        Row {
            id,
            data_type: "faq".into(),
            question: question.into(),
            phrasings: phrasings.iter().map(|s| s.to_string()).collect(),
            answer: answer.into(),
            category: "Business".into(),
        }
    }

    fn shop() -> Faq {
        Faq::build(
            vec![
                row(
                    1,
                    "What are your opening hours?",
                    &["mnafungua saa ngapi"],
                    "We are open Monday-Saturday 9 AM - 6 PM.",
                ),
                row(
                    2,
                    "How can I pay?",
                    &[],
                    "You can pay by M-Pesa, card or cash.",
                ),
                row(
                    3,
                    "Do you offer installment payments?",
                    &["can I pay in installments"],
                    "Yes, a deposit and up to three monthly payments.",
                ),
                row(
                    4,
                    "Do you deliver?",
                    &[],
                    "We deliver within Nairobi and countrywide by courier.",
                ),
                row(
                    5,
                    "Which guitars do you sell?",
                    &[],
                    "Acoustic, electric and bass guitars.",
                ),
                row(
                    6,
                    "Do you sell keyboards?",
                    &[],
                    "Yes, portable keyboards and digital pianos.",
                ),
            ],
            Lexicon::shipped(),
        )
    }

    fn best(faq: &Faq, message: &str) -> Option<i64> {
        clear_answer(&faq.rank(message, 3), 0.6).map(|(at, _)| faq.row(at).id)
    }

    #[test]
    fn rare_words_decide_and_phrasings_count_like_questions() {
        let faq = shop();
        assert_eq!(
            best(&faq, "Can I pay in installments?"),
            Some(3),
            "installments, not payments"
        );
        assert_eq!(best(&faq, "How do I pay?"), Some(2));
        assert_eq!(
            best(&faq, "Mnafungua saa ngapi?"),
            Some(1),
            "a phrasing in Swahili"
        );
        assert_eq!(
            best(&faq, "can you deliver to Mombasa"),
            Some(4),
            "an unknown place does not sink it"
        );
        assert_eq!(
            best(&faq, "Do you sell cars?"),
            None,
            "one common word is not enough"
        );
        assert_eq!(best(&faq, "zebra crossing"), None);
    }

    #[test]
    fn an_item_counts_as_its_kind() {
        let faq = Faq::build(
            vec![
                row(1, "Do you repair instruments?", &[], "Bring it in."),
                row(2, "Do you deliver?", &[], "Countrywide."),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(best(&faq, "Do you repair drums?"), Some(1));
        let (drums, instruments) = (
            faq.rank("Do you repair drums?", 1)[0].1,
            faq.rank("Do you repair instruments?", 1)[0].1,
        );
        assert!(
            drums < instruments,
            "a little less than the kind itself: {drums} {instruments}"
        );
        assert_eq!(
            faq.answer("Tell me about your drum kits", 0.6),
            None,
            "its kind alone fits the repairs, and it asks nothing about them"
        );
    }

    #[test]
    fn a_message_that_is_most_of_another_entrys_question_is_not_answered_alone() {
        let faq = shop();
        let asked = "Can I pay in installments, and do you deliver?";
        let ranked = faq.rank(asked, 2);
        assert!(ranked[0].1 >= 0.6, "{ranked:?}");
        assert_eq!(
            faq.answer(asked, 0.6),
            None,
            "the deliveries' question is all in it too"
        );
        assert_eq!(
            faq.answer("Hi, can I pay in installments?", 0.6)
                .map(|(at, _)| faq.row(at).id),
            Some(3)
        );
    }

    fn answer(faq: &Faq, message: &str) -> Option<i64> {
        faq.answer(message, 0.6).map(|(at, _)| faq.row(at).id)
    }

    #[test]
    fn an_item_is_what_is_asked_about_not_the_question() {
        let faq = shop();
        assert_eq!(
            answer(&faq, "Can I pay in installments for the keyboard?"),
            Some(3),
            "the keyboard does not contradict the instalments"
        );
        assert_eq!(
            answer(&faq, "Hey, can you send the keyboard to me?"),
            Some(4),
            "the keyboards' entry has only the item: the deliveries' entry answers"
        );
        assert_eq!(answer(&faq, "Do you sell keyboards?"), Some(6));
        assert_eq!(answer(&faq, "keyboards?"), Some(6));
    }

    #[test]
    fn an_item_naming_a_thing_no_entry_knows_is_left_to_the_llm() {
        let faq = shop();
        assert_eq!(
            answer(&faq, "Can I pay in installments for guitar lessons?"),
            None
        );
        assert_eq!(answer(&faq, "Do you deliver keyboard stands?"), None);
        assert_eq!(
            answer(&faq, "Can I pay in installments for the guitar?"),
            Some(3)
        );
        assert_eq!(
            answer(&faq, "Mnauza gitaa ya acoustic?"),
            Some(5),
            "Swahili names the thing first, joined by ya"
        );
        assert_eq!(
            answer(&faq, "Looking for a Casio Privia PX-S1100"),
            Some(6),
            "a model's code is no other thing"
        );
    }

    #[test]
    fn unknown_words_joined_by_a_hyphen_weigh_as_one() {
        let faq = shop();
        let score = |m: &str| faq.rank(m, 1)[0].1;
        assert!(
            score("a left-handed guitar") > score("a left handed guitar"),
            "{} {}",
            score("a left-handed guitar"),
            score("a left handed guitar")
        );
        assert_eq!(
            score("semi-acoustic guitar"),
            score("semi acoustic guitar"),
            "only words no entry knows: acoustic is one"
        );
    }

    #[test]
    fn a_day_or_a_holiday_asks_when_the_shop_is_open() {
        let faq = Faq::build(
            vec![
                row(
                    1,
                    "What are your opening hours?",
                    &["which days are you open"],
                    "9 to 6.",
                ),
                row(2, "Do you deliver?", &[], "Countrywide."),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(answer(&faq, "Are you opened on boxing day?"), Some(1));
        assert_eq!(answer(&faq, "mko wazi wikendi?"), Some(1));
        assert_eq!(answer(&faq, "Do you sell boxing gloves?"), None);
    }

    #[test]
    fn an_instrument_the_entry_does_not_list_is_left_to_the_llm() {
        let faq = Faq::build(
            vec![
                row(
                    1,
                    "Do you repair instruments?",
                    &[],
                    "Yes, we repair guitars, keyboards and drums.",
                ),
                row(2, "How can I pay?", &[], "M-Pesa, card or cash."),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(answer(&faq, "Do you repair violins?"), None, "not listed");
        assert_eq!(answer(&faq, "Mnarepair saxophone?"), None, "not listed");
        assert_eq!(answer(&faq, "Do you repair drums?"), Some(1), "listed");
        assert_eq!(
            answer(&faq, "Can you fix my Fender?"),
            Some(1),
            "a make of a listed instrument"
        );
        assert_eq!(answer(&faq, "Do you repair instruments?"), Some(1));
        assert_eq!(
            answer(&faq, "How can I pay for a violin?"),
            Some(2),
            "an entry that lists no instrument"
        );
    }

    #[test]
    fn a_topic_no_entry_knows_is_left_to_the_llm() {
        let faq = shop();
        assert_eq!(answer(&faq, "Do you teach guitar?"), None, "lessons");
        assert_eq!(
            answer(&faq, "Bei ya kinanda ni pesa ngapi?"),
            None,
            "a price"
        );
        assert_eq!(
            answer(
                &faq,
                "Which guitar is best for a beginner, acoustic or electric?"
            ),
            None,
            "advice, asked before the last clause"
        );
        assert_eq!(answer(&faq, "Do you sell guitars?"), Some(5));
        assert_eq!(
            answer(&faq, "Naweza kuuza gitaa yangu kwenu?"),
            None,
            "the shop buying"
        );
        assert_eq!(answer(&faq, "Mnauza gitaa za mkono wa pili?"), None, "used");
        assert_eq!(answer(&faq, "Nataka kununua gitaa, mnazo?"), Some(5));
        let fees = Faq::build(
            vec![
                row(
                    1,
                    "Do you deliver?",
                    &[],
                    "Countrywide; the fee depends on the place.",
                ),
                row(2, "How can I pay?", &[], "M-Pesa or cash."),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(
            answer(&fees, "How much is delivery?"),
            Some(1),
            "its answer tells the fee"
        );
        let lessons = Faq::build(
            vec![
                row(
                    1,
                    "Do you offer guitar lessons?",
                    &[],
                    "Saturdays, KES 2,000.",
                ),
                row(
                    2,
                    "Which guitars do you sell?",
                    &[],
                    "Acoustic and electric.",
                ),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(
            answer(&lessons, "Do you teach guitar?"),
            Some(1),
            "an entry about the topic answers it"
        );
    }

    #[test]
    fn do_you_have_asks_whether_the_shop_sells_it_unless_it_names_a_service() {
        let faq = shop();
        assert_eq!(answer(&faq, "Do you have Fender guitars?"), Some(5));
        assert_eq!(answer(&faq, "Mko na kinanda?"), Some(6));
        assert_eq!(answer(&faq, "Do you offer delivery?"), Some(4));
        assert_eq!(
            answer(&faq, "Mko na offer ya keyboards?"),
            None,
            "an offer had is a discount"
        );
        assert_eq!(
            answer(&faq, "Hi, do you have installment payments for keyboards?"),
            Some(3)
        );
    }

    #[test]
    fn a_place_and_an_item_set_the_scene_of_the_question() {
        let faq = shop();
        assert_eq!(
            answer(&faq, "Can you send a guitar to Nakuru by parcel?"),
            Some(4)
        );
        assert_eq!(answer(&faq, "Mnaweza kunitumia keyboard Kisumu?"), Some(4));
        assert_eq!(
            answer(&faq, "Do you deliver keyboards to Rongai?"),
            Some(4),
            "a place after an item names no unknown thing"
        );
        let score = |m: &str| faq.rank(m, 1)[0].1;
        assert!(score("can you deliver to Nakuru") > score("can you deliver to Zanzibar"));
    }

    #[test]
    fn the_last_sentence_asks_when_none_ends_in_a_question_mark() {
        let faq = shop();
        assert_eq!(
            answer(
                &faq,
                "Good afternoon. I saw your shop on Instagram and my son wants to learn. \
                 Do you sell Casio keyboards"
            ),
            Some(6),
            "the sentences before set the scene, their topics too"
        );
        assert_eq!(answer(&faq, "Hi, I am in Mombasa. How will I pay"), Some(2));
    }

    #[test]
    fn what_the_customer_did_is_a_report_not_a_question() {
        let faq = shop();
        assert_eq!(answer(&faq, "Nimetuma pesa kwa M-Pesa, mmeipata?"), None);
        assert_eq!(answer(&faq, "I paid by card, is it through?"), None);
        assert_eq!(answer(&faq, "Nitalipa aje?"), Some(2));
    }

    #[test]
    fn items_and_a_place_alone_are_no_question_for_an_entry_that_names_no_place() {
        let faq = shop();
        assert_eq!(answer(&faq, "Can you get a keyboard to me in Nyeri?"), None);
        assert_eq!(answer(&faq, "Do you sell keyboards in Nyeri?"), Some(6));
        let nairobi = Faq::build(
            vec![
                row(
                    1,
                    "Do you sell keyboards?",
                    &[],
                    "Yes, at our Nairobi shop.",
                ),
                row(2, "Do you deliver?", &[], "Countrywide."),
            ],
            Lexicon::shipped(),
        );
        assert_eq!(answer(&nairobi, "Keyboards Nairobi?"), Some(1));
    }

    #[test]
    fn thanks_at_the_end_say_nothing_about_the_question() {
        let faq = shop();
        assert_eq!(
            answer(&faq, "Do you deliver to Nyeri? Thanks boss"),
            Some(4)
        );
        assert_eq!(answer(&faq, "can I pay by card, asante"), Some(2));
    }

    #[test]
    fn typos_find_their_word() {
        let faq = shop();
        assert_eq!(best(&faq, "Can I pay in instalments?"), Some(3));
        assert_eq!(best(&faq, "do you delivr"), Some(4));
        assert_eq!(best(&faq, "openning hours?"), Some(1));
    }

    #[test]
    fn two_entries_that_fit_alike_are_not_a_clear_answer() {
        assert_eq!(clear_answer(&[(0, 0.72), (1, 0.7)], 0.6), None);
        assert_eq!(
            clear_answer(&[(0, 1.0), (1, 0.95)], 0.6),
            None,
            "two entries that both fit"
        );
        assert_eq!(clear_answer(&[(0, 0.75), (1, 0.5)], 0.6), Some((0, 0.75)));
        assert_eq!(clear_answer(&[(0, 0.55)], 0.6), None);
        assert_eq!(clear_answer(&[], 0.6), None);
    }

    #[test]
    fn ranking_is_by_score_then_lowest_id_and_never_zero() {
        let faq = Faq::build(
            vec![
                row(7, "open hours", &[], "x"),
                row(3, "open hours", &[], "x"),
                row(1, "delivery", &[], "open"),
            ],
            Lexicon::shipped(),
        );
        let ranked: Vec<(i64, f32)> = faq
            .rank("open hours", 5)
            .into_iter()
            .map(|(at, s)| (faq.row(at).id, s))
            .collect();
        assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 7, 1]);
        assert_eq!(ranked[0].1, 1.0);
        assert!(faq.rank("zebra", 5).is_empty());
    }
}
