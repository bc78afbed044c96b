-- Keeping a deployment healthy: credential expiry, the master key, retention, the self-check.
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- Tokens that need the operator: expired, expiring within the interval, due for rotation
-- (90 days), or refused by Meta.
SET ROLE alphadome_admin;
UPDATE alphadome.bot_tenants SET token_expires_at = now() + interval '3 days' WHERE slug = 'mama-jikoni';
SELECT slug, reason FROM alphadome.expiring_credentials('14 days');
-- One alert per tenant and day to its escalation phone; a second call the same day queues none.
SELECT alphadome.enqueue_credential_alerts() AS queued, alphadome.enqueue_credential_alerts() AS queued_again;
RESET ROLE;

-- Re-encrypting every credential under the current master key (after a new key was appended
-- to the key file; here there is one key, so nothing is left to do).
SELECT alphadome.rotate_master_key();

-- Retention: raw webhooks and finished jobs older than keep, a batch at a time.
SELECT alphadome.prune_history('30 days');
SELECT alphadome.prune_history('1 hour');
-- The credential audit is kept at least 30 days; this is the only way to delete from it.
SELECT alphadome.prune_credential_audit('1 year');
SELECT alphadome.prune_credential_audit('1 day');

-- The isolation self-check (alphadome-relay check prints the same).
SELECT check_name, ok FROM alphadome.security_check();
