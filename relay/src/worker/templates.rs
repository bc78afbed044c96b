//! templates.sync: the shop's message templates, read from the Graph API for complete_job to
//! store (whatsapp_templates), which a person sends outside the 24-hour window.
use super::outbound::Outbound;
use crate::clients::{Class, Failure};
use crate::contract::BusinessAccount;
use serde_json::{json, Value};

pub async fn sync(out: &Outbound, account: &BusinessAccount) -> Result<Value, Failure> {
    if out.dry_run {
        // complete_job would take an empty list as "no templates" and remove the shop's.
        return Err(Failure::new(
            Class::Permanent,
            "a dry run reads no templates from Meta",
        ));
    }
    let templates = out
        .timed_meta(
            out.meta
                .list_templates(&account.business_account_id, account.access_token.expose()),
        )
        .await?;
    Ok(json!({"data": templates}))
}
