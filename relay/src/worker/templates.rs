//! templates.sync: the shop's message templates, read from the Graph API for complete_job to
//! store (whatsapp_templates), which a person sends outside the 24-hour window.
//! templates.submit: a template the owner wrote, sent to Meta for review.
use super::outbound::Outbound;
use crate::clients::{Class, Failure};
use crate::contract::{BusinessAccount, TemplateDraft};
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

pub async fn submit(
    out: &Outbound,
    account: &BusinessAccount,
    draft: &TemplateDraft,
) -> Result<Value, Failure> {
    if out.dry_run {
        return Err(Failure::new(
            Class::Permanent,
            "a dry run submits no templates to Meta",
        ));
    }
    let body = json!({"name": draft.name, "language": draft.language, "category": draft.category,
                      "components": draft.components});
    let answer = out
        .timed_meta(out.meta.create_template(
            &account.business_account_id,
            account.access_token.expose(),
            &body,
        ))
        .await?;
    Ok(json!({"id": answer["id"], "status": answer["status"], "category": answer["category"]}))
}
