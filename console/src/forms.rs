//! Small pieces of the pages' forms and queries.

/// A form with nothing but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct Nothing {}

/// `?page=N` (from 0) of a long list.
#[derive(serde::Deserialize, Default)]
pub struct Paging {
    #[serde(default)]
    pub page: i64,
}

impl Paging {
    pub fn offset(&self, per_page: i64) -> i64 {
        self.page.clamp(0, 100_000) * per_page
    }
}

/// A form's text box as the database wants it: trimmed, NULL when empty.
pub fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// What a save from an outdated page is told (its form carried an older version of what it
/// edits): nothing was saved, so nothing changed elsewhere is put back. The page shows the
/// values as they are now.
pub const OUTDATED: &str =
    "This page was changed elsewhere: nothing was saved. It shows the changes now; make yours again and save.";
