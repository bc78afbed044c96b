//! One place for the hours (issue 22), end to end: the owner changes the week in the console's
//! hours page, and what customers get through the relay changes with it: the FAQ's hours answer
//! (in English and in Swahili) and the after-hours reply to a customer who asks for a person.
mod common;

use common::*;
use std::time::Duration;

/// The day, three days from now in Nairobi, as the form names it: the shop is closed until then
/// whatever the clock says when only that day is open.
fn day_in_three_days(shop: &Shop) -> String {
    shop.db()
        .query_one(
            "SELECT (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[extract(dow FROM (now() AT TIME ZONE 'Africa/Nairobi') + interval '3 days')::int + 1]",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Saves the week with only `day` open, `from` to `to` (as typed), through the hours page.
fn open_only(owner: &Visitor, day: &str, from: &str, to: &str) {
    let (status, page) = owner.get("/hours");
    assert_eq!(status, 200);
    let csrf = owner.csrf();
    let version = form_version(&page);
    let (open, from_field, to_field) = (
        format!("{day}_open"),
        format!("{day}_from"),
        format!("{day}_to"),
    );
    let form = [
        ("csrf", csrf.as_str()),
        ("version", version.as_str()),
        ("timezone", "Africa/Nairobi"),
        (
            "after_hours_message",
            "Sorry, we are closed. We open {opening} ({hours}).",
        ),
        (open.as_str(), "on"),
        (from_field.as_str(), from),
        (to_field.as_str(), to),
    ];
    let (status, page) = owner.post("/hours", &form);
    assert_eq!(status, 303, "{page}");
}

/// The text Meta was asked to send to `customer`.
fn reply_to(shop: &Shop, customer: &str) -> String {
    let requests = shop
        .meta
        .wait_until(Duration::from_secs(30), "a reply", |r| {
            r.iter().any(|x| x.body["to"] == customer)
        });
    let sent = requests.iter().find(|x| x.body["to"] == customer).unwrap();
    sent.body["text"]["body"].as_str().unwrap().to_string()
}

#[test]
fn the_hours_page_changes_every_answer_that_states_the_hours() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let day = day_in_three_days(&shop);
    let name = common_day_name(&day);

    open_only(&owner, &day, "10:00", "11:00");
    shop.customer_asks("254711000801", "What are your opening hours?", "wamid.h.1");
    assert_eq!(
        reply_to(&shop, "254711000801"),
        format!(
            "We are open {name} 10 AM - 11 AM; closed on {}.",
            closed_days(&day)
        )
    );
    shop.customer_asks("254711000802", "I want a human", "wamid.h.2");
    let after = reply_to(&shop, "254711000802");
    assert!(
        after.starts_with("Sorry, we are closed. We open ") && after.contains(" at 10 AM ("),
        "{after}"
    );

    // The owner changes the hours, typed the short way: every answer follows.
    open_only(&owner, &day, "7:30", "12:00");
    let (_, page) = owner.get("/hours");
    assert!(page.contains(&format!("{name} 7:30 AM - 12 PM")), "{page}");
    shop.customer_asks("254711000803", "What are your opening hours?", "wamid.h.3");
    assert_eq!(
        reply_to(&shop, "254711000803"),
        format!(
            "We are open {name} 7:30 AM - 12 PM; closed on {}.",
            closed_days(&day)
        )
    );
    shop.customer_asks("254711000804", "I want a human", "wamid.h.4");
    let after = reply_to(&shop, "254711000804");
    assert!(after.contains(" at 7:30 AM ("), "{after}");
    // In Swahili, by the Swahili clock (7:30 AM is saa 1:30 asubuhi).
    shop.customer_asks("254711000805", "Mnafungua saa ngapi?", "wamid.h.5");
    let swahili = reply_to(&shop, "254711000805");
    assert!(
        swahili.contains("saa 1:30 asubuhi hadi saa 6 mchana"),
        "{swahili}"
    );
}

#[test]
fn a_wrong_time_is_named_by_its_day_and_nothing_is_saved() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/hours");
    let csrf = owner.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("version", &form_version(&page)),
        ("timezone", "Africa/Nairobi"),
        ("after_hours_message", "Closed; open {opening}."),
        ("tue_open", "on"),
        ("tue_from", "9:00"),
        ("tue_to", "25:00"),
    ];
    let (status, page) = owner.post("/hours", &form);
    assert_eq!(status, 200);
    assert!(
        page.contains("Tuesday: &quot;25:00&quot; is not a time for when it closes"),
        "{page}"
    );
    let hours: Option<serde_json::Value> = shop
        .db()
        .query_one(
            "SELECT business_hours FROM alphadome.bot_control_settings WHERE bot_tenant_id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap()
        .get(0);
    assert_eq!(hours, None, "nothing saved");
}

/// A day's name as customers read it.
fn common_day_name(day: &str) -> &'static str {
    match day {
        "mon" => "Monday",
        "tue" => "Tuesday",
        "wed" => "Wednesday",
        "thu" => "Thursday",
        "fri" => "Friday",
        "sat" => "Saturday",
        _ => "Sunday",
    }
}

/// The closed days of a week open only on `day`, as the hours answer groups them.
fn closed_days(day: &str) -> String {
    let week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let at = week.iter().position(|d| *d == day).unwrap();
    let group = |from: usize, to: usize| -> Option<String> {
        (from <= to).then(|| {
            let (a, b) = (common_day_name(week[from]), common_day_name(week[to]));
            match to - from {
                0 => a.to_string(),
                1 => format!("{a} and {b}"),
                _ => format!("{a} to {b}"),
            }
        })
    };
    [
        at.checked_sub(1).and_then(|before| group(0, before)),
        group(at + 1, 6),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ")
}
