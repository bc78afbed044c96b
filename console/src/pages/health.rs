//! The overview's health block (issue 22): is the bot hearing customers, can it still send, is it
//! failing, is it behind. Each line in plain words with a link to where it is fixed. Cheap: each
//! figure is read through an index of the tenant's own rows, under row-level security.
use maud::{html, Markup};
use tokio_postgres::Transaction;
use uuid::Uuid;

/// One row of figures for the tenant ($1), each NULL when there is nothing to say:
/// 0 seconds since the last customer message, 1 its local time, 2 the token's state,
/// 3 days until the token expires (NULL: unknown or never), 4 its expiry's local date,
/// 5 replies that failed for good in the last hour, 6 replies being retried after an error,
/// 7 jobs waiting, 8 seconds the oldest runnable one has waited, 9 seconds since Meta last took
/// one of the shop's messages, among its newest 200 (what shows the access works).
const HEALTH: &str = "
    SELECT extract(epoch FROM now() - last.at)::bigint,
           to_char(last.at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'),
           t.credential_status,
           CASE WHEN isfinite(t.token_expires_at) THEN floor(extract(epoch FROM t.token_expires_at - now()) / 86400)::bigint END,
           CASE WHEN isfinite(t.token_expires_at) THEN to_char(t.token_expires_at AT TIME ZONE s.timezone, 'DD Mon YYYY') END,
           (SELECT count(*) FROM alphadome.outbox o
             WHERE o.bot_tenant_id = $1 AND o.status = 'dead' AND o.updated_at > now() - interval '1 hour'
               AND o.kind IN ('reply.generate', 'reply.send')),
           queue.retrying, queue.waiting, queue.oldest, extract(epoch FROM now() - sent.at)::bigint
      FROM alphadome.bot_tenants t
      JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = t.id
      LEFT JOIN LATERAL (
            -- The newest message first by the key (ids grow with time): the first inbound one.
            SELECT m.created_at AS at FROM alphadome.messages m
             WHERE m.bot_tenant_id = $1 AND m.direction = 'inbound'
             ORDER BY m.id DESC LIMIT 1) last ON true
      LEFT JOIN LATERAL (
            -- Among the newest 200 messages only: the page's cost stays bounded in a shop
            -- whose messages lately were all the customers' (or simulated, in a dry run).
            SELECT max(r.created_at) FILTER (WHERE r.direction = 'outbound' AND r.status IN ('sent', 'delivered', 'read')) AS at
              FROM (SELECT m.created_at, m.direction, m.status FROM alphadome.messages m
                     WHERE m.bot_tenant_id = $1 ORDER BY m.id DESC LIMIT 200) r) sent ON true
      CROSS JOIN LATERAL (
            SELECT count(*) AS waiting,
                   count(*) FILTER (WHERE o.last_error IS NOT NULL AND o.kind IN ('reply.generate', 'reply.send')) AS retrying,
                   extract(epoch FROM now() - min(o.run_at) FILTER (WHERE o.run_at <= now()))::bigint AS oldest
              FROM alphadome.outbox o
             WHERE o.bot_tenant_id = $1 AND o.status IN ('queued', 'running')) queue
     WHERE t.id = $1";

/// Seconds as a person says how long ago: 'just now', '3 minutes ago', '2 hours ago', '4 days ago'.
pub fn ago(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match seconds.max(0) {
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 2 * 86400 => plural(s / 3600, "hour"),
        s => plural(s / 86400, "day"),
    }
}

/// Seconds as a wait: 'under a minute', '5 minutes', '2 hours'.
fn wait(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => "under a minute".to_string(),
        s if s < 3600 => format!("{} minute{}", s / 60, if s / 60 == 1 { "" } else { "s" }),
        s => format!("{} hour{}", s / 3600, if s / 3600 == 1 { "" } else { "s" }),
    }
}

/// A line: fine or not, what it says, and where to go about it.
fn line(ok: bool, said: String, href: &str, link: &str) -> Markup {
    html! {
        li class=(if ok { "ok" } else { "problem" }) {
            span.mark aria-hidden="true" { (if ok { "✓" } else { "!" }) }
            span.said { (said) }
            a href=(href) { (link) }
        }
    }
}

/// The block, for the tenant of the owner's session.
pub async fn section(tx: &Transaction<'_>, tenant: Uuid) -> Result<Markup, tokio_postgres::Error> {
    let r = tx.query_one(HEALTH, &[&tenant]).await?;
    let (since, at): (Option<i64>, Option<String>) = (r.get(0), r.get(1));
    let (status, days, expires): (String, Option<i64>, Option<String>) =
        (r.get(2), r.get(3), r.get(4));
    let (dead, retrying, waiting, oldest): (i64, i64, i64, Option<i64>) =
        (r.get(5), r.get(6), r.get(7), r.get(8));
    let sent: Option<i64> = r.get(9);
    let heard = match (since, at) {
        (Some(since), Some(at)) => line(
            since < 7 * 86400,
            format!("Last message from a customer: {} ({at}).", ago(since)),
            "/conversations",
            "Conversations",
        ),
        _ => line(
            false,
            "No customer has written yet.".to_string(),
            "/conversations",
            "Conversations",
        ),
    };
    let token = match (status.as_str(), days) {
        ("needs_reauth", _) => line(
            false,
            "WhatsApp refused the shop's access: replies are paused until your AlphaDome operator renews it.".into(),
            "/alerts",
            "Alerts",
        ),
        (_, Some(d)) if d < 0 => line(
            false,
            format!("The shop's WhatsApp access expired on {}: ask your AlphaDome operator to renew it.", expires.unwrap_or_default()),
            "/alerts",
            "Alerts",
        ),
        (_, Some(d)) if d <= 14 => line(
            false,
            format!("The shop's WhatsApp access expires in {d} day{} ({}): ask your AlphaDome operator to renew it.",
                    if d == 1 { "" } else { "s" }, expires.unwrap_or_default()),
            "/alerts",
            "Alerts",
        ),
        _ => {
            // Works: only what Meta took says so; until then it is not known.
            let until = match (days, &expires) {
                (Some(_), Some(date)) => format!(" It is valid until {date}."),
                _ => String::new(),
            };
            let said = match sent {
                Some(s) => format!("WhatsApp access works: Meta took a message from the shop {}.{until}", ago(s)),
                None => format!("WhatsApp access not known to work yet: no message has gone out lately.{until}"),
            };
            line(true, said, "/alerts", "Alerts")
        }
    };
    let failing = match (dead, retrying) {
        (0, 0) => line(true, "No reply failed in the last hour.".into(), "/alerts", "Alerts"),
        (0, n) => line(false, format!("{n} repl{} could not be sent yet and will be tried again.", if n == 1 { "y" } else { "ies" }), "/alerts", "Alerts"),
        (n, _) => line(false, format!("{n} repl{} failed in the last hour and will not be sent: tell your AlphaDome operator.", if n == 1 { "y" } else { "ies" }), "/alerts", "Alerts"),
    };
    let queue = match (waiting, oldest) {
        (0, _) => line(
            true,
            "Nothing waits to be sent.".into(),
            "/conversations",
            "Conversations",
        ),
        (n, Some(s)) => line(
            s < 300,
            format!(
                "{n} message{} waiting to go out, the oldest for {}.",
                if n == 1 { "" } else { "s" },
                wait(s)
            ),
            "/conversations",
            "Conversations",
        ),
        (n, None) => line(
            true,
            format!(
                "{n} message{} will go out later (alerts waiting for opening time).",
                if n == 1 { "" } else { "s" }
            ),
            "/alerts",
            "Alerts",
        ),
    };
    Ok(html! {
        section.health aria-labelledby="health" {
            h2 #health { "Is the bot working?" }
            ul.health { (heard) (token) (failing) (queue) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_person_says_them() {
        assert_eq!(ago(20), "just now");
        assert_eq!(ago(180), "3 minutes ago");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(2 * 3600 + 5), "2 hours ago");
        assert_eq!(ago(5 * 86400), "5 days ago");
        assert_eq!(wait(30), "under a minute");
        assert_eq!(wait(600), "10 minutes");
    }
}
