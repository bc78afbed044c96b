//! The seed's FAQ against how Kassangas's customers ask. Three sets, written apart from the
//! seed's phrasings, in English, Swahili and Sheng, with typos, and with questions the FAQ must
//! not answer (tests/fixtures/faq/):
//! - kassangas-paraphrases.tsv: short paraphrases;
//! - kassangas-real-dev.tsv: whole messages as customers write them (greetings and context before
//!   the question, words the phrasings lack, an item of a category, Swahili and Sheng verb forms,
//!   negatives sharing words with an entry), the part the matcher was tuned on;
//! - kassangas-real-heldout.tsv: the same kinds of message, never tuned on: only its figures and
//!   its wrong answers are printed, not which messages were left to the LLM;
//! - kassangas-harder-dev.tsv and kassangas-harder-heldout.tsv: a second set of the same kinds,
//!   new messages written before the matcher was tuned on its development part (issue 29,
//!   point 4); its held-out part is treated like the first's;
//! - kassangas-kinds-dev.tsv: messages written for the kinds of message the matcher must
//!   generalise to (each entry's concept in other words, Swahili verb forms, brands and models,
//!   places, thanks at the end, negatives asking a price, lessons, advice), a development set.
//!
//! Each message goes through ingest as a customer's message; what was decided is compared with
//! what should have been.
use alphadome_e2e::kassangas::{ingest, seed, text_webhook, SEED_NUMBER};
use alphadome_e2e::{repo_root, Cluster};
use std::collections::HashMap;

/// (message, the question of the entry that must answer it, or None: the FAQ must not).
fn messages(file: &str) -> Vec<(String, Option<String>)> {
    let path = repo_root().join("tests/fixtures/faq").join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (message, expected) = l.split_once('\t').expect("message<TAB>entry");
            let expected = (expected != "-").then(|| expected.to_string());
            (message.to_string(), expected)
        })
        .collect()
}

/// What the bot did with one set.
struct Outcome {
    total: usize,
    answerable: usize,
    right: usize,
    wrong: Vec<String>,
    left: usize,
}

impl Outcome {
    fn must_not(&self) -> usize {
        self.total - self.answerable
    }

    fn report(&self, name: &str) {
        alphadome_e2e::report(&format!(
            "FAQ {name}: {} questions ({} the FAQ answers, {} it must not): \
             {} answered right, {} answered wrong, {} left to the LLM; \
             {:.0}% of the answerable answered directly",
            self.total,
            self.answerable,
            self.must_not(),
            self.right,
            self.wrong.len(),
            self.left,
            100.0 * self.right as f64 / self.answerable.max(1) as f64
        ));
    }

    fn none_wrong(&self, name: &str) {
        assert!(
            self.wrong.is_empty(),
            "{name}: wrong answers sent: {:#?}",
            self.wrong
        );
    }

    fn answers_80_percent(&self, name: &str) {
        assert!(
            self.right * 100 >= self.answerable * 80,
            "{name}: {} of {} answered directly: under 80%",
            self.right,
            self.answerable
        );
    }

    /// No fewer answered than this release's matcher answers (it may only get better).
    fn answers_at_least(&self, right: usize, name: &str) {
        assert!(
            self.right >= right,
            "{name}: {} answered directly, fewer than the {right} this release answers",
            self.right
        );
    }
}

/// Sends every message of `file` through ingest, each from a customer of its own.
fn measure(db: &mut postgres::Client, tenant: &str, file: &str, show_left: bool) -> Outcome {
    let entries: HashMap<String, String> = db
        .query(
            "SELECT answer, question FROM alphadome.bot_training_data",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let set = messages(file);
    let mut outcome = Outcome {
        total: set.len(),
        answerable: set.iter().filter(|(_, e)| e.is_some()).count(),
        right: 0,
        wrong: Vec::new(),
        left: 0,
    };
    for (i, (message, expected)) in set.iter().enumerate() {
        let wamid = format!("wamid.{file}.{i}");
        let customer = format!("2547{:03}{i:05}", file.len());
        ingest(db, &text_webhook(SEED_NUMBER, &customer, &wamid, message)).unwrap();
        let decided = db
            .query_one(
                "SELECT m.decision::text, o.payload ->> 'text'
                   FROM alphadome.messages m
                   LEFT JOIN alphadome.outbox o ON (o.payload ->> 'inbound_message_id')::bigint = m.id
                  WHERE m.wamid = $1",
                &[&wamid],
            )
            .unwrap();
        let (decision, reply): (String, Option<String>) = (decided.get(0), decided.get(1));
        if decision != "faq" {
            outcome.left += 1;
            if show_left {
                println!("{file}: left to the LLM ({decision}): {message}");
            }
            continue;
        }
        let reply = reply.expect("an FAQ decision queues its answer");
        // The ranking agrees: match_faq's first row is what ingest sent, its placeholders
        // ({hours}, {opening}) put in, in English or Swahili (the customer's language).
        let first = db
            .query_one(
                "SELECT f.answer, alphadome.render_placeholders($1::text::uuid, f.answer, 'en'),
                        alphadome.render_placeholders($1::text::uuid, f.answer, 'sw')
                   FROM alphadome.match_faq($1::text::uuid, $2, 1) f",
                &[&tenant, message],
            )
            .unwrap();
        let (first, in_english, in_swahili): (String, String, String) =
            (first.get(0), first.get(1), first.get(2));
        assert!(
            reply == in_english || reply == in_swahili,
            "match_faq and ingest disagree on {message:?}: {first:?} against {reply:?}"
        );
        let answered = entries.get(&first).cloned();
        if answered.is_some() && answered == *expected {
            outcome.right += 1;
        } else {
            let wrong =
                format!("{message:?} got the answer to {answered:?}, expected {expected:?}");
            if show_left {
                println!("{file}: answered wrong: {wrong}");
            }
            outcome.wrong.push(wrong);
        }
    }
    outcome
}

#[test]
fn the_faq_answers_paraphrases_and_real_messages_right_or_leaves_them_to_the_llm_and_never_answers_wrong(
) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.create_database("shop");
    seed(&cluster, "shop");
    let tenant = alphadome_e2e::kassangas::tenant_id(&mut db);
    // More messages than the seed's hourly reply limit (200): the last set would be rate-limited.
    db.execute(
        "UPDATE alphadome.bot_control_settings SET max_messages_per_hour = 1000",
        &[],
    )
    .unwrap();
    let paraphrases = measure(&mut db, &tenant, "kassangas-paraphrases.tsv", true);
    let development = measure(&mut db, &tenant, "kassangas-real-dev.tsv", true);
    let held_out = measure(&mut db, &tenant, "kassangas-real-heldout.tsv", false);
    let harder_development = measure(&mut db, &tenant, "kassangas-harder-dev.tsv", true);
    let harder_held_out = measure(&mut db, &tenant, "kassangas-harder-heldout.tsv", false);
    let kinds = measure(&mut db, &tenant, "kassangas-kinds-dev.tsv", true);
    paraphrases.report("paraphrases");
    development.report("real messages, development part");
    held_out.report("real messages, held-out part");
    harder_development.report("harder messages, development part");
    harder_held_out.report("harder messages, held-out part");
    kinds.report("kinds of message, development set");
    assert!(
        kinds.total >= 60 && kinds.must_not() >= 20,
        "the kinds set: at least 60, with 20 questions to refuse"
    );
    assert!(
        paraphrases.total >= 50 && paraphrases.must_not() >= 10,
        "the paraphrase set is the issue's: at least 50, with questions to refuse"
    );
    assert!(
        development.total + held_out.total >= 60
            && development.must_not() + held_out.must_not() >= 20,
        "the real-message set: at least 60, with 20 questions to refuse"
    );
    // Precision first: a wrong answer fails before a missed one, on every set (the two the
    // held-out part kept from 0.2.0 are answered right or left to the LLM since issue 29's
    // topics and instalment words).
    paraphrases.none_wrong("paraphrases");
    development.none_wrong("real messages, development part");
    held_out.none_wrong("real messages, held-out part");
    harder_development.none_wrong("harder messages, development part");
    harder_held_out.none_wrong("harder messages, held-out part");
    kinds.none_wrong("kinds of message, development set");
    // Recall: the paraphrases and the harder set's development part at 80% (issue 29); every
    // set no worse than this release (the held-out parts are under 80%: measured, not tuned on).
    paraphrases.answers_80_percent("paraphrases");
    harder_development.answers_80_percent("harder messages, development part");
    kinds.answers_80_percent("kinds of message, development set");
    paraphrases.answers_at_least(55, "paraphrases");
    development.answers_at_least(27, "real messages, development part");
    held_out.answers_at_least(16, "real messages, held-out part");
    harder_development.answers_at_least(33, "harder messages, development part");
    harder_held_out.answers_at_least(20, "harder messages, held-out part");
    kinds.answers_at_least(80, "kinds of message, development set");
}
