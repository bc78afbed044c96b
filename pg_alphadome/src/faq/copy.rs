//! Each session's copy of its tenants' FAQs, indexed (rank.rs). Exact, not a time-limited
//! cache: a copy is tagged with the tenant's `faq_version` (bot_control_settings), which every
//! change to its FAQ rows replaces with a new value (a trigger, a sequence: never reused).
use super::lexicon::Lexicon;
use super::rank::{Faq, Row};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Beyond this many tenants a session starts its copies afresh, so memory stays bounded.
const MAX_TENANTS: usize = 1000;

/// A tenant's FAQ as of a faq_version.
type Copy = (Option<i64>, Rc<Faq>);

thread_local! {
    static COPIES: RefCell<HashMap<[u8; 16], Copy>> = RefCell::new(HashMap::new());
}

/// The tenant's FAQ at `version`, from the session's copy; `load` reads the rows and the
/// tenant's words for the matcher (word, what it means) when the copy is missing or older.
pub fn faq<E>(
    tenant: [u8; 16],
    version: Option<i64>,
    load: impl FnOnce() -> Result<(Vec<Row>, Vec<(String, String)>), E>,
) -> Result<Rc<Faq>, E> {
    let known = COPIES.with(|copies| {
        copies
            .borrow()
            .get(&tenant)
            .filter(|(v, _)| *v == version)
            .map(|(_, faq)| faq.clone())
    });
    if let Some(faq) = known {
        return Ok(faq);
    }
    let (rows, synonyms) = load()?;
    let faq = Rc::new(Faq::build(rows, Lexicon::with(&synonyms)));
    COPIES.with(|copies| {
        let mut copies = copies.borrow_mut();
        if copies.len() >= MAX_TENANTS {
            copies.clear();
        }
        copies.insert(tenant, (version, faq.clone()));
    });
    Ok(faq)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn hours(answer: &str) -> Vec<Row> {
        vec![Row {
            id: 1,
            data_type: "faq".into(),
            question: "What are your opening hours?".into(),
            phrasings: vec![],
            answer: answer.into(),
            category: "Business".into(),
        }]
    }

    #[test]
    fn a_copy_is_used_until_the_version_changes_and_a_failed_read_keeps_nothing() {
        let tenant = [1; 16];
        let mut loads = 0;
        let mut answer = |version: Option<i64>, text: &str| {
            let faq = faq::<()>(tenant, version, || {
                loads += 1;
                Ok((hours(text), Vec::new()))
            })
            .unwrap();
            faq.row(0).answer.clone()
        };
        assert_eq!(answer(None, "9 to 6"), "9 to 6");
        assert_eq!(answer(None, "not read"), "9 to 6", "same version: the copy");
        assert_eq!(
            answer(Some(5), "10 to 4"),
            "10 to 4",
            "new version: read again"
        );
        assert_eq!(answer(Some(5), "not read"), "10 to 4");
        assert_eq!(loads, 2);
        assert_eq!(
            faq::<&str>([4; 16], Some(1), || Err("no")).err(),
            Some("no")
        );
        let reread = faq([4; 16], Some(1), || {
            Ok::<_, ()>((hours("9 to 6"), Vec::new()))
        })
        .unwrap();
        assert_eq!(
            reread.row(0).answer,
            "9 to 6",
            "the failed read left no copy behind"
        );
    }
}
