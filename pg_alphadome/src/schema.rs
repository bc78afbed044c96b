//! The hand-written SQL of the extension, in the order CREATE EXTENSION runs it.
//!
//! `schema.sql` is the state (tables, domains, sequences, indexes): an upgrade changes it by hand
//! in `sql/upgrade/<from>--<to>.sql`. Every other file is code that can run again: each generated
//! upgrade script runs all of it after the hand part, in this order (scripts/upgrade-script.sh).
use pgrx::prelude::*;

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/base.sql", name = "base", requires = ["schema"]);
extension_sql_file!("../sql/console.sql", name = "console", requires = ["base"]);
extension_sql_file!(
    "../sql/security.sql",
    name = "security",
    requires = ["base", "console"]
);
extension_sql_file!(
    "../sql/hours.sql",
    name = "hours",
    requires = ["security", language::_message_language]
);
extension_sql_file!(
    "../sql/tenants.sql",
    name = "tenants",
    requires = [
        "security",
        "hours",
        phone::normalize_phone,
        credentials::_encrypt_credential,
        credentials::_decrypt_credential
    ]
);
extension_sql_file!(
    "../sql/selling.sql",
    name = "selling",
    requires = ["security", "hours"]
);
extension_sql_file!(
    "../sql/prompt.sql",
    name = "prompt",
    requires = ["security", "selling", faq::match_faq, phone::_customer_key]
);
extension_sql_file!(
    "../sql/lifecycle.sql",
    name = "lifecycle",
    requires = [
        "tenants",
        credentials::_credential_key_id,
        credentials::_current_master_key_id
    ]
);
extension_sql_file!(
    "../sql/security_check.sql",
    name = "security_check",
    requires = ["security", credentials::_master_key_file_problem]
);
extension_sql_file!(
    "../sql/ingest.sql",
    name = "ingest",
    requires = ["prompt", "tenants", ingest::tenant_cache::_tenants_changed]
);
extension_sql_file!(
    "../sql/queue.sql",
    name = "queue",
    requires = ["ingest", "lifecycle", credentials::_decrypt_credential]
);
extension_sql_file!(
    "../sql/inbox.sql",
    name = "inbox",
    requires = ["queue", "hours", "console"]
);
extension_sql_file!("../sql/usage.sql", name = "usage", requires = ["queue"]);
extension_sql_file!(
    "../sql/semantic.sql",
    name = "semantic",
    requires = ["queue", "hours", faq::semantic::_semantic_match]
);
extension_sql_file!(
    "../sql/campaigns.sql",
    name = "campaigns",
    requires = ["usage", "inbox", phone::_customer_key]
);
extension_sql_file!(
    "../sql/retention.sql",
    name = "retention",
    requires = ["usage", phone::_customer_key]
);
extension_sql_file!(
    "../sql/schedule.sql",
    name = "schedule",
    requires = ["retention", "inbox", "lifecycle"]
);
extension_sql_file!(
    "../sql/faq_learning.sql",
    name = "faq_learning",
    requires = [
        "usage",
        "ingest",
        faq::match_faq,
        ingest::replay::replay,
        faq_learning::_faq_question_key,
        faq_learning::_greeting_only
    ]
);
extension_sql_file!(
    "../sql/comments.sql",
    name = "comments",
    requires = [
        "queue",
        "usage",
        "semantic",
        "campaigns",
        "retention",
        "schedule",
        "inbox",
        "security_check",
        "faq_learning",
        phone::normalize_phone,
        ingest::ingest_webhook,
        ingest::ingest_webhook_text,
        ingest::transcript::_plan_transcript,
        ingest::replay::replay,
        ingest::replay::try_message
    ]
);
extension_sql_file!("../sql/grants.sql", name = "grants", finalize);
