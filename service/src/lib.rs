//! alphadome-service: what the relay and the console both are, besides their own pages and jobs:
//! a service with database settings and a pool, JSON logs, an HTTP server fit for a public
//! URL, and email through SMTP. Each binary keeps its own routes and settings; none copies these.
pub mod body;
pub mod database;
pub mod email;
pub mod layers;
pub mod logging;
pub mod server;
