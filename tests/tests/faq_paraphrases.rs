//! The seed's FAQ against how Kassangas's customers ask: tests/fixtures/faq/
//! kassangas-paraphrases.tsv, written apart from the seed's phrasings, in English, Swahili and
//! Sheng, with typos, and with questions the FAQ must not answer. Each goes through ingest as a
//! customer's message; what was decided is compared with what should have been.
use alphadome_e2e::kassangas::{ingest, seed, text_webhook, SEED_NUMBER};
use alphadome_e2e::{repo_root, Cluster};
use std::collections::HashMap;

/// (message, the question of the entry that must answer it, or None: the FAQ must not).
fn paraphrases() -> Vec<(String, Option<String>)> {
    let path = repo_root().join("tests/fixtures/faq/kassangas-paraphrases.tsv");
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

#[test]
fn the_faq_answers_paraphrases_right_or_leaves_them_to_the_llm_and_never_answers_wrong() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.create_database("shop");
    seed(&cluster, "shop");
    let tenant = alphadome_e2e::kassangas::tenant_id(&mut db);
    let entries: HashMap<String, String> = db
        .query(
            "SELECT answer, question FROM alphadome.bot_training_data",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let set = paraphrases();
    let (mut right, mut wrong, mut left, mut answerable) = (0, Vec::new(), 0, 0);
    for (i, (message, expected)) in set.iter().enumerate() {
        let wamid = format!("wamid.paraphrase.{i}");
        let customer = format!("2547110{i:05}");
        ingest(
            &mut db,
            &text_webhook(SEED_NUMBER, &customer, &wamid, message),
        )
        .unwrap();
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
        answerable += usize::from(expected.is_some());
        if decision != "faq" {
            left += 1;
            println!("left to the LLM ({decision}): {message}");
            continue;
        }
        let reply = reply.expect("an FAQ decision queues its answer");
        // The ranking agrees: match_faq's first row is what ingest sent.
        let first: String = db
            .query_one(
                "SELECT answer FROM alphadome.match_faq($1::text::uuid, $2, 1)",
                &[&tenant, message],
            )
            .unwrap()
            .get(0);
        assert_eq!(first, reply, "match_faq and ingest disagree on {message:?}");
        let answered = entries.get(&reply).cloned();
        if answered.is_some() && answered == *expected {
            right += 1;
        } else {
            wrong.push(format!(
                "{message:?} got the answer to {answered:?}, expected {expected:?}"
            ));
        }
    }
    let must_not = set.len() - answerable;
    alphadome_e2e::report(&format!(
        "FAQ paraphrases: {} questions ({answerable} the FAQ answers, {must_not} it must not): \
         {right} answered right, {} answered wrong, {left} left to the LLM; \
         {:.0}% of the answerable answered directly",
        set.len(),
        wrong.len(),
        100.0 * right as f64 / answerable as f64
    ));
    assert!(
        set.len() >= 50 && must_not >= 10,
        "the set is the issue's: at least 50, with questions to refuse"
    );
    assert!(wrong.is_empty(), "wrong answers sent: {wrong:#?}");
    assert!(
        right * 100 >= answerable * 80,
        "{right} of {answerable} answered directly: under 80%"
    );
}
