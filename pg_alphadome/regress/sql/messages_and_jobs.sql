-- Webhooks in, jobs out: what the relay calls (continues the database of the files before).
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- One webhook POST, as Meta sends it: two customers' messages for Kassangas' number.
SELECT alphadome.ingest_webhook('{
  "object": "whatsapp_business_account",
  "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp",
    "metadata": {"display_phone_number": "254702245555", "phone_number_id": "109876543210"},
    "contacts": [{"profile": {"name": "Wanjiru"}, "wa_id": "254711000001"},
                 {"profile": {"name": "Otieno"}, "wa_id": "254711000002"}],
    "messages": [
      {"from": "254711000001", "id": "wamid.A1", "timestamp": "1764400000", "type": "text",
       "text": {"body": "What are your opening hours?"}},
      {"from": "254711000002", "id": "wamid.B1", "timestamp": "1764400001", "type": "text",
       "text": {"body": "Which drum kit is best for a church band?"}}]}}]}]}') - 'event_id' AS counts;

-- What it recorded and decided: an FAQ answer goes out directly, the other question goes to the LLM.
SELECT c.customer_name, m.body, m.decision
  FROM alphadome.messages m JOIN alphadome.conversations c ON c.bot_tenant_id = m.bot_tenant_id AND c.id = m.conversation_id
 ORDER BY m.id;

-- Meta delivers again (it retries, and every subscribed app gets a copy): nothing new happens.
SELECT alphadome.ingest_webhook('{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "109876543210"},
    "messages": [{"from": "254711000001", "id": "wamid.A1", "timestamp": "1764400000", "type": "text",
                  "text": {"body": "What are your opening hours?"}}]}}]}]}') ->> 'duplicates' AS duplicates;

-- A body that is not a webhook.
SELECT alphadome.ingest_webhook('{"hello": "world"}');

-- The relay claims jobs: each comes with what it needs, the credential decrypted (and audited).
SELECT j ->> 'id' AS job, j ->> 'kind' AS kind, j -> 'payload' ->> 'text' AS text,
       j #>> '{whatsapp,phone_number_id}' AS phone_number_id, j #>> '{whatsapp,access_token}' AS access_token,
       j #>> '{llm,request,model}' AS model
  FROM alphadome.claim_jobs('relay-1', 10, 60) j ORDER BY 1;

-- The relay reports: the send went out; the LLM answered (which queues its send).
SELECT alphadome.complete_job(1, '{"wamid": "wamid.OUT1", "status": "sent"}');
SELECT alphadome.complete_job(2, '{"content": "For a church band we suggest the Pearl Roadshow kit."}');
SELECT id, kind, status, payload ->> 'text' AS text FROM alphadome.outbox ORDER BY id;

-- A send that Meta throttles is retried when the relay says (here in 30 s); a permanent error
-- ends in the dead letters, and the message log shows why.
SELECT j ->> 'id' AS job FROM alphadome.claim_jobs('relay-1') j;
SELECT alphadome.fail_job(3, '{"class": "throttle", "code": 130429, "message": "Rate limit hit"}', 30);
SELECT status, attempts, run_at > now() + interval '29 seconds' AS waits FROM alphadome.outbox WHERE id = 3;
UPDATE alphadome.outbox SET run_at = now() WHERE id = 3;
SELECT j ->> 'attempt' AS attempt FROM alphadome.claim_jobs('relay-1') j;
SELECT alphadome.fail_job(3, '{"class": "permanent", "code": 131026, "message": "Message undeliverable"}');
SELECT direction, status, error ->> 'code' AS code FROM alphadome.messages WHERE direction = 'outbound' ORDER BY id;

-- Meta's status webhooks move an outbound message forward (never back).
SELECT alphadome.ingest_webhook('{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "109876543210"},
    "statuses": [{"id": "wamid.OUT1", "status": "read", "timestamp": "1764400100", "recipient_id": "254711000001"},
                 {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1764400050", "recipient_id": "254711000001"}]}}]}]}') ->> 'statuses' AS statuses;
SELECT wamid, status FROM alphadome.messages WHERE wamid = 'wamid.OUT1';

-- The operator's view of the queue.
SELECT slug, queued, running, dead, done_last_hour FROM alphadome.queue_status ORDER BY slug;
