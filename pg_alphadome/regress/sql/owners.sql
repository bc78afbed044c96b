-- A tenant owner (Gideon) under row-level security: his rows only, and only what is his to change.
-- PostgREST sets request.jwt.claims; a middle tier of your own sets alphadome.tenant_id.
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never
SELECT id AS kassangas FROM alphadome.bot_tenants WHERE slug = 'kassangas' \gset

-- (psql rolls back just the failing statement: ON_ERROR_ROLLBACK.)
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL ROLE alphadome_tenant;
SELECT set_config('alphadome.tenant_id', :'kassangas', true) IS NOT NULL AS context_set;
SELECT slug, client_name, credential_status FROM alphadome.bot_tenants;
SELECT count(*) AS my_messages FROM alphadome.messages;
-- His switches, words and FAQ are his.
UPDATE alphadome.bot_control_settings SET enable_ai_responses = false, escalation_phone = '0702 245 555';
INSERT INTO alphadome.bot_training_data (data_type, question, answer)
VALUES ('faq', 'Do you sell drums?', 'Yes: acoustic and electronic kits from KES 45,000.');
-- Not the operator's limits, not a credential, not another tenant's rows.
UPDATE alphadome.bot_control_settings SET max_messages_per_hour = 100000;
SELECT whatsapp_access_token FROM alphadome.bot_tenants;
SELECT alphadome.tenant_credential(:'kassangas', 'ai_api_key', 'curious');
WITH switched AS (UPDATE alphadome.bot_control_settings SET is_bot_enabled = false
                   WHERE bot_tenant_id <> :'kassangas' RETURNING 1)
SELECT count(*) AS other_tenants_switched FROM switched;
ROLLBACK;

-- Without a tenant context an owner sees nothing (fail closed).
BEGIN;
SET LOCAL ROLE alphadome_tenant;
SELECT count(*) AS tenants_seen FROM alphadome.bot_tenants;
ROLLBACK;
