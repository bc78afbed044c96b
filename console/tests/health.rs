//! The overview's health (issue 22): when a customer last wrote, whether the WhatsApp access
//! works and until when, replies failing, the queue; each with a link, each the owner's own.
mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn the_overview_says_whether_the_bot_works_for_this_shop_only() {
    let shop = Shop::start();
    // Before any message went out, nobody knows yet whether the access works.
    {
        let owner = Visitor::new(&shop);
        assert_eq!(owner.login(OWNER, PASSWORD), 303);
        let (_, page) = owner.get("/");
        assert!(
            page.contains("WhatsApp access not known to work yet: no message has gone out lately."),
            "{page}"
        );
    }
    shop.customer_asks(
        "254711000901",
        "What are your opening hours?",
        "wamid.health.1",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.outbox WHERE kind = 'reply.send' AND status = 'done'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the reply was not sent");
        std::thread::sleep(Duration::from_millis(100));
    }
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let (_, page) = owner.get("/");
    for said in [
        "Last message from a customer: ",
        "WhatsApp access works: Meta took a message from the shop just now.",
        "No reply failed in the last hour.",
        "Nothing waits to be sent.",
        "href=\"/conversations\"",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    // The token expires in five days; one reply of this shop and one of the other shop died,
    // and a reply of this shop waits since ten minutes.
    shop.db()
        .batch_execute(&format!(
            "UPDATE alphadome.bot_tenants SET token_expires_at = now() + interval '5 days 1 hour'
              WHERE id = '{k}';
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, attempts, last_error)
             VALUES ('{k}', 'reply.send', '{{}}', 'dead', 5, '{{\"message\": \"Meta said no\"}}'),
                    ('{o}', 'reply.send', '{{}}', 'dead', 5, '{{\"message\": \"Meta said no\"}}');
             INSERT INTO alphadome.outbox (bot_tenant_id, kind, payload, status, run_at, locked_by, lease_until)
             VALUES ('{k}', 'templates.sync', '{{}}', 'running', now() - interval '10 minutes', 'elsewhere',
                     now() + interval '1 hour');",
            k = shop.kassangas,
            o = shop.other
        ))
        .unwrap();
    let (_, page) = owner.get("/");
    for said in [
        "The shop's WhatsApp access expires in 5 days (",
        "1 reply failed in the last hour and will not be sent",
        "1 message waiting to go out, the oldest for 10 minutes.",
        "href=\"/alerts\"",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    // The other shop's owner sees his own: no customer, nothing of Kassangas's.
    let other = Visitor::new(&shop);
    assert_eq!(other.login(OTHER_OWNER, PASSWORD), 303);
    let (_, page) = other.get("/");
    assert!(
        page.contains("No customer has written yet.")
            && page.contains("1 reply failed in the last hour")
            && page.contains("Nothing waits to be sent."),
        "{page}"
    );
    // Meta refused the token: said first, in words.
    shop.db()
        .execute(
            "UPDATE alphadome.bot_tenants SET credential_status = 'needs_reauth' WHERE id = $1::text::uuid",
            &[&shop.kassangas],
        )
        .unwrap();
    let (_, page) = owner.get("/");
    assert!(
        page.contains("WhatsApp refused the shop's access: replies are paused"),
        "{page}"
    );
}
