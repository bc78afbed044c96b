-- Tenants: onboarding, credentials, lookups, the operator's changes.
-- Run as a superuser with the master key file set; operator steps SET ROLE alphadome_admin.
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- Phone numbers in the digits-only international form WhatsApp uses.
SELECT alphadome.normalize_phone('0702245555') AS kenyan_local,
       alphadome.normalize_phone('+254 702-245-555') AS kenyan_international,
       alphadome.normalize_phone('(415) 555-0100', '1') AS us_local;
SELECT alphadome.normalize_phone('call me');

-- Onboard a tenant as the operator. Secrets go as values, here literals; from an application
-- pass them as bind parameters (docs/security.md).
SET ROLE alphadome_admin;
SELECT alphadome.create_tenant(
           slug => 'kassangas',
           client_name => 'Kassangas Music Shop',
           client_phone => '0702245555',
           whatsapp_phone_number_id => '109876543210',
           whatsapp_access_token => 'EAAexample-kassangas-token',
           ai_api_key => 'sk-example-kassangas-key',
           client_email => 'gideon@kassangas.co.ke',
           token_expires_at => now() + interval '60 days') AS kassangas \gset
SELECT alphadome.create_tenant(
           slug => 'mama-jikoni',
           client_name => 'Mama Jikoni',
           client_phone => '+254 722 000 111',
           whatsapp_phone_number_id => '109876543211',
           whatsapp_access_token => 'EAAexample-jikoni-token',
           app_secret => 'example-jikoni-app-secret',
           webhook_verify_token => 'example-jikoni-verify') AS jikoni \gset

-- What was stored: normalised numbers, default settings, ciphertext only.
SELECT slug, client_phone, client_email, ai_model, country_code, credential_status,
       left(encode(whatsapp_access_token, 'escape'), 4) AS token_format
  FROM alphadome.bot_tenants ORDER BY slug;
SELECT t.slug, s.is_bot_enabled, s.max_messages_per_hour, s.enable_ai_responses, s.escalation_phone
  FROM alphadome.bot_control_settings s JOIN alphadome.bot_tenants t ON t.id = s.bot_tenant_id ORDER BY t.slug;

-- Mistakes are refused with a SQLSTATE and a message that says what to fix.
SELECT alphadome.create_tenant('kassangas', 'Again', '0702000000', '1', 'x');
SELECT alphadome.create_tenant('new-shop', 'New', '0702245555', '2', 'x');
SELECT alphadome.create_tenant('new-shop', 'New', '0702000001', '3', 'x', client_email => 'owner@mamajikoni');
SELECT alphadome.create_tenant('new-shop', 'New', '0702000001', '3', 'x', token_expires_at => '2026-01-01');

-- Lookups.
SELECT alphadome.tenant_for_phone_number_id('109876543210') = :'kassangas' AS by_number,
       alphadome.tenant_for_client_phone('+254 702 245 555') = :'kassangas' AS by_phone,
       alphadome.tenant_for_slug('mama-jikoni') = :'jikoni' AS by_slug,
       alphadome.tenant_for_slug('nobody') IS NULL AS unknown_is_null;

-- Decrypting a credential: operator and relay only, every time audited.
SELECT alphadome.tenant_credential(:'kassangas', 'whatsapp_access_token', 'checking the token by hand');
SELECT credential, purpose, acting_role FROM alphadome.credential_audit ORDER BY id;

-- Rotating: a new token, its expiry; NULL keeps a value. Audited too.
SELECT alphadome.set_credentials(:'kassangas', whatsapp_access_token => 'EAAexample-rotated-token',
                                 token_expires_at => now() + interval '60 days');
SELECT alphadome.tenant_credential(:'kassangas', 'whatsapp_access_token', 'after rotation');
SELECT alphadome.set_credentials(:'kassangas', token_expires_at => '2026-01-01');
SELECT credential, purpose FROM alphadome.credential_audit WHERE purpose LIKE 'set_credentials%';

-- A tenant with its own Meta app: its verify token (only a hash is kept) and its route.
SELECT alphadome.webhook_verify_token_matches('mama-jikoni', 'example-jikoni-verify') AS right_token,
       alphadome.webhook_verify_token_matches('mama-jikoni', 'guess') AS wrong_token;
SELECT alphadome.set_webhook_verify_token(:'jikoni', 'example-jikoni-verify-2');
SELECT slug, has_app_secret, verify_token_sha256 IS NOT NULL AS has_verify_token FROM alphadome.webhook_routes();

-- The operator changes a tenant's number, slug and phone with plain UPDATEs; the same checks
-- apply as in create_tenant.
UPDATE alphadome.bot_tenants SET whatsapp_phone_number_id = '109876543299', client_phone = '0722 000 222'
 WHERE id = :'jikoni';
UPDATE alphadome.bot_tenants SET slug = 'kassangas' WHERE id = :'jikoni';
UPDATE alphadome.bot_tenants SET client_email = 'mama@jikoni' WHERE id = :'jikoni';
SELECT slug, whatsapp_phone_number_id, client_phone FROM alphadome.bot_tenants WHERE id = :'jikoni';
RESET ROLE;
