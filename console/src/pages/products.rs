//! Products (issue 24): what the shop sells and at what price, kept on a phone: a list, add,
//! edit, delete, a CSV to download and a CSV to paste in (rows are matched by name: a known name
//! is updated, a new one added); and the latest orders customers made in the chat, with how
//! their payment went. The bot answers price questions from these rows and takes an order's
//! amount from them.
use crate::app::{attempt, attempt_query, App};
use crate::error::AppError;
use crate::forms::Nothing;
use crate::html;
use crate::session::{Posted, Session};
use crate::who::Who;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_postgres::Transaction;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct Product {
    #[serde(default)]
    name: String,
    /// As typed: "32000", "1,250.50".
    #[serde(default)]
    price: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    /// One a line.
    #[serde(default)]
    phrasings: String,
    in_stock: Option<String>,
}

#[derive(Deserialize)]
pub struct Listing {
    done: Option<String>,
}

/// The price as the database takes it: digits and one point, commas and spaces dropped.
fn price_text(typed: &str) -> String {
    typed.chars().filter(|c| !matches!(c, ',' | ' ')).collect()
}

/// Why a typed price is not one, in the owner's words (the database would say "invalid input
/// syntax for type numeric"); None: it is one.
fn price_problem(typed: &str) -> Option<&'static str> {
    let text = price_text(typed);
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "0"));
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    (!(digits(whole, 10) && digits(cents, 2)))
        .then_some("The price must be a number of shillings, like 32000 or 1,250.50.")
}

fn editor(p: &Product, action: &str, csrf: &Markup, button: &str) -> Markup {
    html! {
        form.entry method="post" action=(action) {
            (csrf)
            label { "Name" input type="text" name="name" value=(p.name) required; }
            label { "Price (KES)" input type="text" name="price" inputmode="decimal" value=(p.price) required; }
            (html::checkbox("in_stock", "In stock", p.in_stock.is_some()))
            label { "Category" input type="text" name="category" value=(p.category); }
            label { "Description" textarea name="description" rows="2" { (p.description) } small { "A line or two the AI may use." } }
            label { "Other names customers use" textarea name="phrasings" rows="2" { (p.phrasings) } small { "One a line: \"kinanda\", \"piano ya umeme\"." } }
            button type="submit" { (button) }
        }
    }
}

const ADD: &str = "
    INSERT INTO alphadome.products (name, price, in_stock, category, description, phrasings, bot_tenant_id)
    VALUES (btrim($1), $2::text::numeric, $3, nullif(btrim($4), ''), nullif(btrim($5), ''),
            (SELECT coalesce(array_agg(btrim(p, E' \\r\\t')), '{}') FROM unnest(string_to_array($6, E'\\n')) p WHERE btrim(p, E' \\r\\t') <> ''), $7)";

const SAVE: &str = "
    UPDATE alphadome.products
       SET name = btrim($1), price = $2::text::numeric, in_stock = $3, category = nullif(btrim($4), ''),
           description = nullif(btrim($5), ''),
           phrasings = (SELECT coalesce(array_agg(btrim(p, E' \\r\\t')), '{}') FROM unnest(string_to_array($6, E'\\n')) p WHERE btrim(p, E' \\r\\t') <> '')
     WHERE id = $7";

/// One CSV row added, or updated when the shop has a product of that name.
const UPSERT: &str = "
    INSERT INTO alphadome.products (name, price, in_stock, category, description, phrasings, bot_tenant_id)
    VALUES (btrim($1), $2::text::numeric, $3, nullif(btrim($4), ''), nullif(btrim($5), ''),
            (SELECT coalesce(array_agg(btrim(p)), '{}') FROM unnest(string_to_array($6, ';')) p WHERE btrim(p) <> ''), $7)
    ON CONFLICT (bot_tenant_id, name) DO UPDATE
       SET price = EXCLUDED.price, in_stock = EXCLUDED.in_stock, category = EXCLUDED.category,
           description = EXCLUDED.description, phrasings = EXCLUDED.phrasings";

/// The CSV's columns, in order (phrasings separated by ";").
const CSV_HEADER: &str = "name,price,in_stock,category,description,phrasings";

async fn list(
    tx: &Transaction<'_>,
    who: &Who,
    notice: Option<(&str, bool)>,
) -> Result<Response, AppError> {
    let rows = tx
        .query(
            "SELECT id, name, alphadome._price_words(price, currency), in_stock, coalesce(category, ''), is_active
               FROM alphadome.products ORDER BY category NULLS LAST, name LIMIT 500",
            &[],
        )
        .await?;
    let orders = tx
        .query(
            "SELECT o.reference, o.items -> 0 ->> 'name', alphadome._price_words(o.total, o.currency), o.status,
                    to_char(o.created_at AT TIME ZONE s.timezone, 'DD Mon HH24:MI'),
                    (SELECT p.status || coalesce(' ' || p.receipt, '') FROM alphadome.payments p
                      WHERE p.bot_tenant_id = o.bot_tenant_id AND p.order_id = o.id ORDER BY p.id DESC LIMIT 1)
               FROM alphadome.orders o JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = o.bot_tenant_id
              ORDER BY o.id DESC LIMIT 20",
            &[],
        )
        .await?;
    let csrf = html::csrf(who);
    let empty = Product {
        in_stock: Some(String::new()),
        ..Product::default()
    };
    Ok(html::page(
        "Products",
        who,
        html! {
            @if let Some((message, ok)) = notice { (html::notice(Some(message), ok)) }
            p { "The bot answers price questions from this list, and an order's amount is always taken from it." }
            table.entries.cards {
                thead { tr { th { "Product" } th.num { "Price" } th { "Stock" } th { "Category" } th { "Change" } } }
                tbody { @for r in &rows {
                    tr class=(if r.get::<_, bool>(5) { "" } else { "inactive" }) {
                        td.lead { (r.get::<_, String>(1)) }
                        td.num data-label="Price" { (r.get::<_, String>(2)) }
                        td data-label="Stock" { @if r.get::<_, bool>(3) { "in stock" } @else { "out of stock" } }
                        td data-label="Category" { (r.get::<_, String>(4)) }
                        td { a href=(format!("/products/{}", r.get::<_, i64>(0))) { "Edit" } }
                    }
                } }
            }
            h2 { "Add a product" }
            (editor(&empty, "/products", &csrf, "Add product"))
            h2 { "Many at once" }
            p { a href="/products.csv" { "Download the list (CSV)" } }
            form.entry method="post" action="/products/import" {
                (csrf)
                label { "Paste a CSV" textarea name="csv" rows="5" placeholder=(CSV_HEADER) {}
                    small { "Columns: " (CSV_HEADER) ". A product whose name you have already is updated." } }
                button type="submit" { "Import" }
            }
            h2 { "Latest orders" }
            @if orders.is_empty() { p { "No orders yet." } } @else {
                table.cards {
                    thead { tr { th { "Reference" } th { "What" } th.num { "Amount" } th { "Order" } th { "Payment" } th { "When" } } }
                    tbody { @for o in &orders {
                        tr {
                            td.lead { (o.get::<_, String>(0)) }
                            td data-label="What" { (o.get::<_, Option<String>>(1).unwrap_or_default()) }
                            td.num data-label="Amount" { (o.get::<_, String>(2)) }
                            td data-label="Order" { (o.get::<_, String>(3).replace('_', " ")) }
                            td data-label="Payment" { (o.get::<_, Option<String>>(5).unwrap_or_else(|| "-".into())) }
                            td data-label="When" { (o.get::<_, String>(4)) }
                        }
                    } }
                }
            }
        },
    ))
}

pub async fn page(State(app): State<App>, session: Session, Query(q): Query<Listing>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            let done = q.done.as_deref().map(|d| match d {
                "added" => "Product added.".to_string(),
                "saved" => "Product saved.".to_string(),
                "deleted" => "Product deleted.".to_string(),
                n => format!("{} products imported.", n.parse::<u32>().unwrap_or(0)),
            });
            list(tx, who, done.as_deref().map(|d| (d, true))).await
        },
    )
    .await
}

pub async fn add(State(app): State<App>, session: Session, Posted(p): Posted<Product>) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            if let Some(why) = price_problem(&p.price) {
                return list(tx, who, Some((why, false))).await;
            }
            let added = attempt(
                tx,
                ADD,
                &[
                    &p.name,
                    &price_text(&p.price),
                    &p.in_stock.is_some(),
                    &p.category,
                    &p.description,
                    &p.phrasings,
                    &tenant,
                ],
            )
            .await?;
            match added {
                Ok(_) => Ok(Redirect::to("/products?done=added").into_response()),
                Err(why) => list(tx, who, Some((&why, false))).await,
            }
        },
    )
    .await
}

fn edit_page(who: &Who, id: i64, p: &Product, message: Option<&str>) -> Response {
    let csrf = html::csrf(who);
    html::page(
        "Edit a product",
        who,
        html! {
            (html::notice(message, false))
            (editor(p, &format!("/products/{id}"), &csrf, "Save product"))
            details.confirm {
                summary { "Delete this product" }
                p { "The bot will no longer quote it. Orders already made keep it." }
                form method="post" action=(format!("/products/{id}/delete")) { (csrf) button.danger type="submit" { "Yes, delete it" } }
            }
            p { a href="/products" { "Back to the products" } }
        },
    )
}

pub async fn edit(State(app): State<App>, session: Session, Path(id): Path<i64>) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
        let row = tx
            .query_opt(
                "SELECT name, price::text, in_stock, coalesce(category, ''), coalesce(description, ''),
                        array_to_string(phrasings, E'\\n')
                   FROM alphadome.products WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or(AppError::NotFound)?;
        let p = Product {
            name: row.get(0),
            price: row.get(1),
            in_stock: row.get::<_, bool>(2).then(String::new),
            category: row.get(3),
            description: row.get(4),
            phrasings: row.get(5),
        };
        Ok(edit_page(who, id, &p, None))
    })
    .await
}

pub async fn save(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(p): Posted<Product>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, _: Uuid| {
            if let Some(why) = price_problem(&p.price) {
                return Ok(edit_page(who, id, &p, Some(why)));
            }
            let saved = attempt(
                tx,
                SAVE,
                &[
                    &p.name,
                    &price_text(&p.price),
                    &p.in_stock.is_some(),
                    &p.category,
                    &p.description,
                    &p.phrasings,
                    &id,
                ],
            )
            .await?;
            match saved {
                Ok(0) => Err(AppError::NotFound),
                Ok(_) => Ok(Redirect::to("/products?done=saved").into_response()),
                Err(why) => Ok(edit_page(who, id, &p, Some(&why))),
            }
        },
    )
    .await
}

pub async fn delete(
    State(app): State<App>,
    session: Session,
    Path(id): Path<i64>,
    Posted(_): Posted<Nothing>,
) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, _: Uuid| {
        let gone = tx
            .execute("DELETE FROM alphadome.products WHERE id = $1", &[&id])
            .await?;
        if gone == 0 {
            return Err(AppError::NotFound);
        }
        Ok(Redirect::to("/products?done=deleted").into_response())
    })
    .await
}

/// The shop's products as CSV, the columns the import takes.
pub async fn export(State(app): State<App>, session: Session) -> Response {
    app.owner(&session, async |tx: &Transaction<'_>, _: &Who, _: Uuid| {
        let rows = tx
            .query(
                "SELECT name, price::text, in_stock::text, coalesce(category, ''), coalesce(description, ''),
                        array_to_string(phrasings, ';')
                   FROM alphadome.products ORDER BY name",
                &[],
            )
            .await?;
        let mut csv = format!("{CSV_HEADER}\r\n");
        for r in &rows {
            let fields: Vec<String> = (0..6).map(|i| csv_field(&r.get::<_, String>(i))).collect();
            csv.push_str(&fields.join(","));
            csv.push_str("\r\n");
        }
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"products.csv\""),
            ],
            csv,
        )
            .into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct Pasted {
    #[serde(default)]
    csv: String,
}

/// Pasted CSV rows, added or updated by name, all or none: a bad row is named and nothing changes.
pub async fn import(
    State(app): State<App>,
    session: Session,
    Posted(form): Posted<Pasted>,
) -> Response {
    app.owner(
        &session,
        async |tx: &Transaction<'_>, who: &Who, tenant: Uuid| {
            let rows = match parse_csv(&form.csv) {
                Ok(rows) => rows,
                Err(why) => return list(tx, who, Some((&why, false))).await,
            };
            let mut imported = 0u32;
            tx.batch_execute("SAVEPOINT import").await?;
            for (line, row) in rows.iter().enumerate() {
                let [name, price, stock, category, description, phrasings] = row;
                if let Some(why) = price_problem(price) {
                    let why = format!("Nothing was imported: row {} ({name}): {why}", line + 1);
                    return list(tx, who, Some((&why, false))).await;
                }
                let in_stock = !matches!(
                    stock.trim().to_lowercase().as_str(),
                    "false" | "no" | "0" | "out"
                );
                let done = attempt_query(
                    tx,
                    &format!("{UPSERT} RETURNING id"),
                    &[
                        name,
                        &price_text(price),
                        &in_stock,
                        category,
                        description,
                        phrasings,
                        &tenant,
                    ],
                )
                .await?;
                if let Err(why) = done {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT import").await?;
                    let why = format!("Nothing was imported: row {} ({name}): {why}", line + 1);
                    return list(tx, who, Some((&why, false))).await;
                }
                imported += 1;
            }
            Ok(Redirect::to(&format!("/products?done={imported}")).into_response())
        },
    )
    .await
}

/// A field written for CSV: quoted when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The rows of a pasted CSV (RFC 4180 quoting), the header line skipped when it is there, each
/// with the six columns (missing ones empty); a row with more is refused.
fn parse_csv(text: &str) -> Result<Vec<[String; 6]>, String> {
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut record, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("The CSV has a quote that is never closed.".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    let mut rows = Vec::new();
    for (i, mut r) in records.into_iter().enumerate() {
        if r.iter().all(|f| f.trim().is_empty())
            || (i == 0 && r.first().map(|f| f.trim()) == Some("name"))
        {
            continue;
        }
        if r.len() > 6 {
            return Err(format!(
                "Line {} has {} columns; the CSV has six: {CSV_HEADER}.",
                i + 1,
                r.len()
            ));
        }
        r.resize(6, String::new());
        rows.push(r.try_into().expect("six columns"));
    }
    if rows.len() > 2000 {
        return Err("At most 2000 products at once.".into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_csv_reads_with_quotes_commas_and_its_header() {
        let rows = parse_csv("name,price,in_stock,category,description,phrasings\r\n\"Yamaha PSR-E373, 61 keys\",32000,true,Keyboards,\"He said \"\"great\"\"\",kinanda;piano\nCapo,500\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "Yamaha PSR-E373, 61 keys");
        assert_eq!(rows[0][4], "He said \"great\"");
        assert_eq!(rows[0][5], "kinanda;piano");
        assert_eq!(rows[1], ["Capo", "500", "", "", "", ""].map(String::from));
        assert!(parse_csv("a,\"b").is_err());
        assert!(parse_csv("a,1,true,c,d,e,f")
            .unwrap_err()
            .contains("7 columns"));
    }

    #[test]
    fn the_download_reads_back_as_it_was() {
        let name = "Strings, \"light\"";
        let line = format!("{},{}\n", csv_field(name), csv_field("250"));
        assert_eq!(parse_csv(&line).unwrap()[0][0], name);
        assert_eq!(price_text("1,250.50"), "1250.50");
        assert_eq!(price_problem("1,250.50"), None);
        assert_eq!(price_problem("32000"), None);
        for bad in ["abc", "", "12.345", "1.2.3", "-5", "KES 500", "99999999999"] {
            assert!(price_problem(bad).is_some(), "{bad}");
        }
    }
}
