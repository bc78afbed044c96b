-- The original plan's verification queries for the first client. Read-only.
-- psql -f sql/verify/kassangas.sql  (as a superuser or alphadome_admin)

-- 1. The tenant, by its client phone.
SELECT id, slug, client_name, client_phone, is_active, credential_status
  FROM alphadome.bot_tenants
 WHERE client_phone = '254702245555';

-- 2. Its templates.
SELECT count(*) AS template_count
  FROM alphadome.bot_templates
 WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE client_phone = '254702245555');

-- 3. Its training data by type.
SELECT data_type, count(*) AS entries
  FROM alphadome.bot_training_data
 WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE client_phone = '254702245555')
 GROUP BY data_type
 ORDER BY data_type;

-- 4. Its control settings.
SELECT is_bot_enabled, max_messages_per_hour, enable_ai_responses, enable_payment_flow, escalation_phone
  FROM alphadome.bot_control_settings
 WHERE bot_tenant_id = (SELECT id FROM alphadome.bot_tenants WHERE client_phone = '254702245555');
