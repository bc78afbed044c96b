//! Opening hours in one place: the week as day rows (open or closed, from, to, an optional
//! break), holidays as dates, the time zone and the after-hours reply. The settings keep them as
//! JSON (business_hours); the owner never sees it. Answers that state the hours, the FAQ's and
//! the after-hours reply, say {hours} and {opening} and take them from here
//! (alphadome.render_placeholders), so a change here changes every answer.
use crate::app::{attempt, App};
use crate::forms::OUTDATED;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// The week in its order, as business_hours names the days and as the owner does.
pub const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// Empty holiday boxes under the holidays there are, for new ones.
const NEW_HOLIDAYS: usize = 2;

/// One day's row as the form shows and posts it (times as typed).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Day {
    pub open: bool,
    pub from: String,
    pub to: String,
    pub break_from: String,
    pub break_to: String,
}

/// A time as typed ("8:30", "08:30", "8", "18.30", "8:30 "), as business_hours keeps it
/// ("08:30"); "24:00" only where `closing` (open until midnight). None when it is not a time.
pub fn time(typed: &str, closing: bool) -> Option<String> {
    let typed = typed.trim();
    let (h, m) = match typed.split_once([':', '.']) {
        Some((h, m)) => (h, m),
        None => (typed, "00"),
    };
    let all_digits =
        |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let fits = (h < 24 && m < 60) || (closing && h == 24 && m == 0);
    fits.then(|| format!("{h:02}:{m:02}"))
}

/// The week as business_hours' JSON ({"mon": [["08:30", "13:00"], ["14:00", "19:00"]], ...,
/// "sun": []}), or what is wrong, in words that name the day and the box.
pub fn week_json(days: &[Day]) -> Result<Value, String> {
    let mut week = serde_json::Map::new();
    for ((key, name), day) in DAYS.iter().zip(days) {
        if !day.open {
            week.insert(key.to_string(), json!([]));
            continue;
        }
        let read = |typed: &str, what: &str, closing: bool| -> Result<String, String> {
            if typed.trim().is_empty() {
                return Err(format!(
                    "{name}: write when it {what}, like 9:00 or 18:30 (or untick \"Open\")."
                ));
            }
            time(typed, closing).ok_or_else(|| {
                format!(
                    "{name}: \"{}\" is not a time for when it {what}; write it like 9:00 or 18:30.",
                    typed.trim()
                )
            })
        };
        let from = read(&day.from, "opens", false)?;
        let to = read(&day.to, "closes", true)?;
        if to <= from {
            return Err(format!(
                "{name}: it closes ({to}) before it opens ({from})."
            ));
        }
        let ranges = match (
            day.break_from.trim().is_empty(),
            day.break_to.trim().is_empty(),
        ) {
            (true, true) => json!([[from, to]]),
            (false, false) => {
                let start = read(&day.break_from, "starts its break", false)?;
                let end = read(&day.break_to, "ends its break", false)?;
                if !(from < start && start < end && end < to) {
                    return Err(format!(
                        "{name}: the break ({start} to {end}) must start after opening ({from}) and end before closing ({to})."
                    ));
                }
                json!([[from, start], [end, to]])
            }
            _ => {
                return Err(format!(
                    "{name}: give the break both a start and an end, or leave both empty."
                ))
            }
        };
        week.insert(key.to_string(), ranges);
    }
    Ok(Value::Object(week))
}

/// The day rows of stored business_hours (NULL: open all day, every day). A day of more than
/// two ranges shows its first break only (the console never makes one).
pub fn days_of(hours: Option<&Value>) -> Vec<Day> {
    let ranges = |key: &str| -> Vec<(String, String)> {
        hours
            .and_then(|h| h.get(key))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| {
                        Some((
                            r.get(0)?.as_str()?.to_string(),
                            r.get(1)?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut days: Vec<Day> = DAYS
        .iter()
        .map(|(key, _)| {
            if hours.is_none() {
                return Day {
                    open: true,
                    from: "00:00".into(),
                    to: "24:00".into(),
                    ..Day::default()
                };
            }
            let r = ranges(key);
            match r.as_slice() {
                [] => Day::default(),
                [(from, to)] => Day {
                    open: true,
                    from: from.clone(),
                    to: to.clone(),
                    ..Day::default()
                },
                [(from, start), (end, to), ..] => Day {
                    open: true,
                    from: from.clone(),
                    to: r.last().map(|l| l.1.clone()).unwrap_or_else(|| to.clone()),
                    break_from: start.clone(),
                    break_to: end.clone(),
                },
            }
        })
        .collect();
    // A closed day offers the hours of the first open one: ticking "Open" is then enough.
    if let Some(usual) = days.iter().find(|d| d.open).cloned() {
        for day in days.iter_mut().filter(|d| !d.open) {
            day.from = usual.from.clone();
            day.to = usual.to.clone();
        }
    }
    days
}

/// The digest of exactly what this page edits: a save from a page read before a change made
/// elsewhere is refused rather than putting the old hours back. The same text in READ and SAVE.
macro_rules! version {
    () => {
        "md5(row(timezone, business_hours, holidays, after_hours_message)::text)"
    };
}

const READ: &str = concat!(
    "SELECT business_hours, array(SELECT to_char(d, 'YYYY-MM-DD') FROM unnest(holidays) d ORDER BY d),
            timezone, after_hours_message, ",
    version!(),
    ",
            alphadome.render_placeholders(bot_tenant_id, '{hours}', 'en'),
            alphadome.render_placeholders(bot_tenant_id, '{hours}', 'sw'),
            alphadome.render_placeholders(bot_tenant_id, after_hours_message, 'en')
       FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1"
);

/// $3: the holidays as 'YYYY-MM-DD' texts; $6: the version the page was read at.
const SAVE: &str = concat!(
    "UPDATE alphadome.bot_control_settings
        SET business_hours = $2::text::jsonb,
            holidays = (SELECT coalesce(array_agg(DISTINCT d::date ORDER BY d::date), '{}') FROM unnest($3::text[]) d),
            timezone = $4, after_hours_message = $5
      WHERE bot_tenant_id = $1 AND ",
    version!(),
    " = $6"
);

/// The page's values (as stored, or as posted when a save is refused) and what customers read.
struct Week {
    days: Vec<Day>,
    holidays: Vec<String>,
    timezone: String,
    after_hours_message: String,
    version: String,
    said: Option<[String; 3]>,
}

async fn current(tx: &Transaction<'_>, tenant: Uuid) -> Result<Week, tokio_postgres::Error> {
    let r = tx.query_one(READ, &[&tenant]).await?;
    let hours: Option<Value> = r.get(0);
    Ok(Week {
        days: days_of(hours.as_ref()),
        holidays: r.get(1),
        timezone: r.get(2),
        after_hours_message: r.get(3),
        version: r.get(4),
        said: Some([r.get(5), r.get(6), r.get(7)]),
    })
}

/// The posted form: a flat list of fields (mon_open, mon_from, ..., holiday_0, ...).
fn posted(form: &HashMap<String, String>) -> Week {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let days = DAYS
        .iter()
        .map(|(key, _)| Day {
            open: form.contains_key(&format!("{key}_open")),
            from: field(&format!("{key}_from")),
            to: field(&format!("{key}_to")),
            break_from: field(&format!("{key}_break_from")),
            break_to: field(&format!("{key}_break_to")),
        })
        .collect();
    let mut holidays: Vec<(usize, String)> = form
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("holiday_")?.parse().ok()?,
                v.trim().to_string(),
            ))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    holidays.sort();
    Week {
        days,
        holidays: holidays.into_iter().map(|(_, v)| v).collect(),
        timezone: field("timezone"),
        after_hours_message: field("after_hours_message"),
        version: field("version"),
        said: None,
    }
}

/// A holiday as a date box sends it (YYYY-MM-DD), or what is wrong with it.
fn holiday(text: &str) -> Result<String, String> {
    let ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok();
    ok.then(|| text.to_string()).ok_or_else(|| {
        format!("Holidays: \"{text}\" is not a date; pick it in the calendar, like 2026-12-25.")
    })
}

fn form(who: &Who, w: &Week, message: Option<&str>, ok: bool) -> Response {
    let time_box = |name: String, label: &str, value: &str| {
        html! {
            label.time { (label) input type="text" inputmode="text" name=(name) value=(value) placeholder="9:00" autocomplete="off"; }
        }
    };
    html::page(
        "Opening hours",
        who,
        html! {
            (html::notice(message, ok))
            @if let Some([en, sw, after]) = &w.said {
                section.said aria-label="What customers are told" {
                    p { "Customers who ask are told: " strong { "We are open " (en) "." } }
                    p.hint { "In Swahili: " (sw) "." }
                    p.hint { "Outside the hours, a customer who asks for a person reads: " (after) }
                }
            }
            form.hours method="post" action="/hours" {
                (html::csrf(who))
                input type="hidden" name="version" value=(w.version);
                fieldset { legend { "The week" }
                    p.hint { "Times like 9:00 or 18:30; a shop open to midnight closes at 24:00." }
                    @for ((key, name), day) in DAYS.iter().zip(&w.days) {
                        fieldset.day {
                            legend { (name) }
                            label.check { input type="checkbox" name=(format!("{key}_open")) value="on" checked[day.open]; " Open" }
                            div.times {
                                (time_box(format!("{key}_from"), "Opens", &day.from))
                                (time_box(format!("{key}_to"), "Closes", &day.to))
                            }
                            details.break open[!day.break_from.is_empty()] {
                                summary { "Break" }
                                div.times {
                                    (time_box(format!("{key}_break_from"), "Break from", &day.break_from))
                                    (time_box(format!("{key}_break_to"), "Break until", &day.break_to))
                                }
                            }
                        }
                    }
                }
                fieldset { legend { "Holidays (closed all day)" }
                    div.holidays {
                        @for (i, d) in w.holidays.iter().map(String::as_str).chain(std::iter::repeat_n("", NEW_HOLIDAYS)).enumerate() {
                            label { (format!("Holiday {}", i + 1)) input type="date" name=(format!("holiday_{i}")) value=(d); }
                        }
                    }
                    p.hint { "Empty a date to take it away; save to get more empty boxes." }
                }
                fieldset { legend { "When you are closed" }
                    label { "Reply to a customer who asks for a person"
                        textarea name="after_hours_message" rows="4" { (w.after_hours_message) }
                        small { "{opening} becomes when you open next (\"tomorrow at 9 AM\"), {hours} your hours, in the customer's language. The same words work in FAQ answers." }
                    }
                    label { "Time zone" input type="text" name="timezone" value=(w.timezone);
                        small { "Where the shop is, like Africa/Nairobi." } }
                }
                button type="submit" { "Save hours" }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Saved>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let w = current(tx, tenant).await?;
            Ok(form(
                who,
                &w,
                q.saved
                    .as_ref()
                    .map(|_| "Saved: every answer that states the hours says the new ones."),
                true,
            ))
        },
    )
    .await
}

pub async fn save(
    State(app): State<App>,
    session: Session,
    Posted(fields): Posted<HashMap<String, String>>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let w = posted(&fields);
            let checked = week_json(&w.days).and_then(|week| {
                let holidays = w
                    .holidays
                    .iter()
                    .map(|d| holiday(d))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((week.to_string(), holidays))
            });
            let (week, holidays) = match checked {
                Ok(checked) => checked,
                Err(message) => return Ok(form(who, &w, Some(&message), false)),
            };
            let saved = attempt(
                tx,
                SAVE,
                &[
                    &tenant,
                    &week,
                    &holidays,
                    &w.timezone.trim(),
                    &w.after_hours_message.trim(),
                    &w.version,
                ],
            )
            .await?;
            Ok(match saved {
                Ok(0) => form(who, &current(tx, tenant).await?, Some(OUTDATED), false),
                Ok(_) => Redirect::to("/hours?saved=1").into_response(),
                Err(message) => form(who, &w, Some(&message), false),
            })
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(from: &str, to: &str, break_from: &str, break_to: &str) -> Day {
        Day {
            open: true,
            from: from.into(),
            to: to.into(),
            break_from: break_from.into(),
            break_to: break_to.into(),
        }
    }

    #[test]
    fn times_are_read_as_people_type_them() {
        for (typed, kept) in [
            ("8:30", "08:30"),
            ("08:30", "08:30"),
            (" 9 ", "09:00"),
            ("18.30", "18:30"),
            ("0:00", "00:00"),
        ] {
            assert_eq!(time(typed, false).as_deref(), Some(kept), "{typed}");
        }
        assert_eq!(time("24:00", true).as_deref(), Some("24:00"));
        for wrong in ["24:00", "25:00", "8:3", "8:60", "8am", "", "830", "-1:00"] {
            assert_eq!(time(wrong, false), None, "{wrong}");
        }
    }

    #[test]
    fn a_week_of_rows_becomes_the_stored_hours_and_back() {
        let mut days = vec![day("8:30", "19:00", "13:00", "14:00"); 5];
        days.push(day("9", "13:00", "", ""));
        days.push(Day::default());
        let week = week_json(&days).unwrap();
        assert_eq!(week["mon"], json!([["08:30", "13:00"], ["14:00", "19:00"]]));
        assert_eq!(week["sat"], json!([["09:00", "13:00"]]));
        assert_eq!(week["sun"], json!([]));
        let back = days_of(Some(&week));
        assert_eq!(back[0], day("08:30", "19:00", "13:00", "14:00"));
        assert_eq!(back[5], day("09:00", "13:00", "", ""));
        assert!(!back[6].open, "Sunday stays closed");
        assert!(days_of(None)
            .iter()
            .all(|d| d.open && d.from == "00:00" && d.to == "24:00"));
    }

    #[test]
    fn what_is_wrong_names_the_day_and_the_box() {
        let mut days = vec![Day::default(); 7];
        days[2] = day("9:00", "25:00", "", "");
        assert_eq!(
            week_json(&days).unwrap_err(),
            "Wednesday: \"25:00\" is not a time for when it closes; write it like 9:00 or 18:30."
        );
        days[2] = day("18:00", "9:00", "", "");
        assert_eq!(
            week_json(&days).unwrap_err(),
            "Wednesday: it closes (09:00) before it opens (18:00)."
        );
        days[2] = day("9:00", "18:00", "13:00", "");
        assert!(week_json(&days)
            .unwrap_err()
            .starts_with("Wednesday: give the break both"));
        days[2] = day("9:00", "18:00", "8:00", "10:00");
        assert!(week_json(&days)
            .unwrap_err()
            .starts_with("Wednesday: the break (08:00 to 10:00) must start after opening"));
        days[2] = day("", "18:00", "", "");
        assert!(week_json(&days)
            .unwrap_err()
            .starts_with("Wednesday: write when it opens"));
        assert!(holiday("2026-02-30").is_err() && holiday("25/12/2026").is_err());
        assert_eq!(holiday("2026-12-25").as_deref(), Ok("2026-12-25"));
    }
}
