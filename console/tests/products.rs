//! The Products page as the owner uses it: what he adds is what the bot quotes.
mod common;

use common::*;

fn form<'a>(
    csrf: &'a str,
    name: &'a str,
    price: &'a str,
    phrasings: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("price", price),
        ("in_stock", "on"),
        ("category", "Keyboards"),
        ("description", ""),
        ("phrasings", phrasings),
    ]
}

/// A product added on the page (its other names typed on several lines, as a browser sends
/// them: CR LF) is listed with its price in shillings and quoted by the bot; a price that is not
/// one is refused in plain words and adds nothing; a pasted CSV adds its rows and the download
/// has them.
#[test]
fn a_product_added_on_the_page_is_what_the_bot_quotes() {
    let shop = Shop::start();
    let owner = Visitor::new(&shop);
    assert_eq!(owner.login(OWNER, PASSWORD), 303);
    let csrf = owner.csrf();
    let added = owner.post(
        "/products",
        &form(
            &csrf,
            "Yamaha PSR-E373 keyboard",
            "32,000",
            "kinanda\r\npiano ya umeme\r\n",
        ),
    );
    assert_eq!(added.0, 303, "{}", added.1);
    let (_, page) = owner.get("/products");
    assert!(page.contains("Yamaha PSR-E373 keyboard"), "{page}");
    assert!(page.contains("32,000"), "{page}");
    let phrasings: Vec<String> = shop
        .db()
        .query_one(
            "SELECT phrasings FROM alphadome.products WHERE name = 'Yamaha PSR-E373 keyboard'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(phrasings, ["kinanda", "piano ya umeme"]);
    let (decision, answer): (String, Option<String>) = {
        let row = shop
            .db()
            .query_one(
                "SELECT decision, answer FROM alphadome.try_message('How much is the Yamaha keyboard?', $1::text::uuid)",
                &[&shop.kassangas],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(decision, "product");
    assert!(
        answer.clone().unwrap_or_default().contains("32,000"),
        "{answer:?}"
    );

    // A customer asks; the usage page counts the answer as one from the products.
    shop.customer_asks(
        "254711000555",
        "How much is the Yamaha keyboard?",
        "wamid.console.price",
    );
    let (_, usage) = owner.get("/usage");
    assert!(
        usage.contains("<tr><th>Answered from your products (prices, buying)</th><td class=\"num\">1</td><td class=\"num\">1</td></tr>"),
        "{usage}"
    );

    let (status, page) = owner.post("/products", &form(&csrf, "Capo", "five hundred", ""));
    assert_eq!(status, 200);
    assert!(
        page.contains("The price must be a number of shillings"),
        "{page}"
    );
    assert!(!page.contains("numeric"), "{page}");
    let capos: i64 = shop
        .db()
        .query_one(
            "SELECT count(*) FROM alphadome.products WHERE name = 'Capo'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(capos, 0);

    let csv = "name,price,in_stock,category,description,phrasings\r\nYamaha F310 acoustic guitar,21000,true,Guitars,,gitaa\r\n";
    assert_eq!(
        owner
            .post("/products/import", &[("csrf", &csrf), ("csv", csv)])
            .0,
        303
    );
    let (_, download) = owner.get("/products.csv");
    assert!(
        download.contains("Yamaha F310 acoustic guitar,21000"),
        "{download}"
    );
    assert!(download.contains("Yamaha PSR-E373 keyboard"), "{download}");
}
