//! The pages, by what they are about (router.rs puts them at their paths). Owners' pages read
//! and write under row-level security as alphadome_tenant; an id in a URL that is not the
//! owner's finds no row, and answers 404.
pub mod account;
pub mod alerts;
pub mod campaigns;
pub mod conversations;
pub mod faq;
pub mod faq_missed;
pub mod health;
pub mod hours;
pub mod operator;
pub mod overview;
pub mod products;
pub mod recovery;
pub mod replay;
pub mod settings;
pub mod templates;
pub mod usage;
