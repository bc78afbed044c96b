-- pg_alphadome 0.1.0 → 0.2.0, written by hand. ALTER EXTENSION pg_alphadome UPDATE runs it in
-- one transaction; afterwards the schema equals a fresh 0.2.0 install (tests/tests/upgrade.rs
-- compares the two). Every schema change of 0.2.0 goes here, in the order of the fresh install.

-- pg_dump keeps the identity sequences' positions (0.1.0 restored them at 1).
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_templates_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.bot_training_data_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.conversations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.messages_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.credential_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alphadome.webhook_events_id_seq', '');

-- A failing call of a function that takes a secret no longer logs the calling statement.
ALTER FUNCTION alphadome.create_tenant(text, text, text, text, text, text, text, text, timestamptz)
    SET log_min_error_statement = 'panic';
ALTER FUNCTION alphadome.set_credentials(uuid, text, text, text, timestamptz)
    SET log_min_error_statement = 'panic';
ALTER FUNCTION alphadome.set_webhook_verify_token(uuid, text)
    SET log_min_error_statement = 'panic';
