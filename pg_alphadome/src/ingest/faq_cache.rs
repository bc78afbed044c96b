//! Each session's copy of its tenants' active FAQ rows, for step 7 of the decision list.
//! Ranking a tenant's rows here costs a fraction of running match_faq's query for every
//! message.
//!
//! Exact, not a time-limited cache: a copy is tagged with the tenant's `faq_version`
//! (bot_control_settings), which every change to its FAQ rows replaces with a new value (a
//! trigger, a sequence: never reused); the version comes with the tenant's switches, from
//! the session's copy of the tenant, which follows every change of that row (tenant_cache.rs).
use crate::matching::{best_faq, FaqWords};
use std::cell::RefCell;
use std::collections::HashMap;

/// One active FAQ or canned-reply row, as match_faq scores it.
pub struct Entry {
    pub id: i64,
    pub answer: String,
    pub question: Vec<String>,
    pub answer_words: Vec<String>,
    pub category: Vec<String>,
}

struct Copy {
    version: Option<i64>,
    entries: Vec<Entry>,
}

/// Beyond this many tenants a session starts its copies afresh, so memory stays bounded.
const MAX_TENANTS: usize = 1000;

thread_local! {
    static COPIES: RefCell<HashMap<[u8; 16], Copy>> = RefCell::new(HashMap::new());
}

/// The best answer and its score for a message's words, from the session's copy of the
/// tenant's FAQ at `version`; `load` reads the rows when the copy is missing or older.
pub fn best<E>(
    tenant: [u8; 16],
    version: Option<i64>,
    message_words: &[String],
    load: impl FnOnce() -> Result<Vec<Entry>, E>,
) -> Result<Option<(String, f32)>, E> {
    COPIES.with(|copies| {
        let mut copies = copies.borrow_mut();
        if copies
            .get(&tenant)
            .is_none_or(|copy| copy.version != version)
        {
            let entries = load()?;
            if copies.len() >= MAX_TENANTS {
                copies.clear();
            }
            copies.insert(tenant, Copy { version, entries });
        }
        let entries = &copies[&tenant].entries;
        Ok(rank(entries, message_words).map(|(at, score)| (entries[at].answer.clone(), score)))
    })
}

fn view(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

fn rank(entries: &[Entry], message_words: &[String]) -> Option<(usize, f32)> {
    let message = view(message_words);
    let words: Vec<[Vec<&str>; 3]> = entries
        .iter()
        .map(|e| [view(&e.question), view(&e.answer_words), view(&e.category)])
        .collect();
    best_faq(
        &message,
        entries
            .iter()
            .zip(&words)
            .map(|(e, [question, answer, category])| FaqWords {
                id: e.id,
                question,
                answer,
                category,
            }),
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    fn entry(id: i64, answer: &str, question: &[&str]) -> Entry {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        Entry {
            id,
            answer: answer.into(),
            question: words(question),
            answer_words: vec![],
            category: vec![],
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_copy_is_used_until_the_version_changes() {
        let tenant = [1; 16];
        let mut loads = 0;
        let mut ask = |version: Option<i64>, answer: &str| {
            best::<()>(tenant, version, &words(&["open", "hour"]), || {
                loads += 1;
                Ok(vec![entry(1, answer, &["open", "hour"])])
            })
            .unwrap()
        };
        assert_eq!(ask(None, "9 to 6"), Some(("9 to 6".into(), 1.0)));
        assert_eq!(
            ask(None, "not read"),
            Some(("9 to 6".into(), 1.0)),
            "same version: the copy"
        );
        assert_eq!(
            ask(Some(5), "10 to 4"),
            Some(("10 to 4".into(), 1.0)),
            "new version: read again"
        );
        assert_eq!(ask(Some(5), "not read"), Some(("10 to 4".into(), 1.0)));
        assert_eq!(loads, 2);
    }

    #[test]
    fn tenants_have_copies_of_their_own_and_a_failed_read_keeps_nothing() {
        let hours = || Ok::<_, ()>(vec![entry(1, "9 to 6", &["open", "hour"])]);
        assert_eq!(
            best([2; 16], Some(1), &words(&["open"]), hours)
                .unwrap()
                .unwrap()
                .0,
            "9 to 6"
        );
        assert_eq!(
            best([3; 16], Some(1), &words(&["open"]), || Ok::<_, ()>(vec![])).unwrap(),
            None
        );
        assert_eq!(
            best::<&str>([4; 16], Some(1), &words(&["open"]), || Err("no")),
            Err("no")
        );
        let reread = best([4; 16], Some(1), &words(&["open"]), hours).unwrap();
        assert_eq!(
            reread.unwrap().0,
            "9 to 6",
            "the failed read left no copy behind"
        );
    }
}
