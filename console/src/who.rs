//! Who is asking, as the database found the session (session.rs): what every page is drawn for.
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Who {
    /// The console account (alphadome.console_accounts.id).
    pub account: Uuid,
    pub email: String,
    /// The owner's tenant; None for an operator.
    pub tenant: Option<Uuid>,
    pub tenant_name: Option<String>,
    pub operator: bool,
    /// A member of the shop's staff (0.3.0): conversations and replies only.
    pub agent: bool,
    /// The CSRF token of this session, for every form.
    pub csrf: String,
}
