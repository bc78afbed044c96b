//! alphadome-console: server-rendered pages for shop owners and the operator. Every owner request
//! runs in one transaction as alphadome_tenant, its tenant context set by the database from the
//! verified session (session.rs), so row-level security does the isolation; the console never
//! takes a tenant id from the browser.
pub mod app;
pub mod config;
pub mod error;
pub mod forms;
pub mod html;
pub mod money;
pub mod pages;
pub mod router;
pub mod serve;
pub mod session;
pub mod svg;
pub mod who;
