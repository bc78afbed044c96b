-- The FAQ, templates and the prompt the LLM gets (continues tenants.sql's database).
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never
SELECT id AS kassangas FROM alphadome.bot_tenants WHERE slug = 'kassangas' \gset

-- The operator (or the owner, under row-level security) adds FAQ entries and templates.
SET ROLE alphadome_admin;
INSERT INTO alphadome.bot_training_data (bot_tenant_id, data_type, question, answer, category) VALUES
  (:'kassangas', 'faq', 'What are your opening hours?',
   'We are open Monday-Saturday 9 AM - 6 PM. We are closed on Sundays and public holidays.', 'Business'),
  (:'kassangas', 'faq', 'Do you deliver?',
   'We deliver within Nairobi the same or next day, and countrywide by courier.', 'Products'),
  (:'kassangas', 'faq', 'Do you offer installment payments?',
   'Yes, for purchases above KES 20,000: a deposit and up to three monthly payments.', 'Payment'),
  (:'kassangas', 'canned_reply', 'Thank you', 'You are welcome! Thank you for choosing Kassangas.', 'Business');
-- A template adds its own instructions to the tenant's one personality: how the bot talks,
-- what the shop is, what it offers now (the owner's AI persona page).
INSERT INTO alphadome.bot_templates (bot_tenant_id, template_name, system_prompt, triggers, is_default) VALUES
  (:'kassangas', 'welcome', 'Greet the customer and ask how you can help.', '{hello,hi}', true),
  (:'kassangas', 'product_inquiry', 'Help the customer choose an instrument. Never invent a price.', '{price,guitar}', false);
UPDATE alphadome.bot_control_settings
   SET persona_tone = 'friendly, in plain words',
       shop_description = 'A music shop on Moi Avenue, Nairobi: guitars, keyboards, drums and repairs.',
       current_offers = 'December sale: 10% off all guitars until 31 Dec.'
 WHERE bot_tenant_id = :'kassangas';

-- Phrasings: other ways customers ask the same thing, matched like the question.
UPDATE alphadome.bot_training_data SET phrasings = '{"what time do you open", "mnafungua saa ngapi"}'
 WHERE bot_tenant_id = :'kassangas' AND question = 'What are your opening hours?';
UPDATE alphadome.bot_training_data SET phrasings = '{"can I pay in installments", "lipa pole pole"}'
 WHERE bot_tenant_id = :'kassangas' AND question = 'Do you offer installment payments?';

-- match_faq ranks a tenant's entries for a message (score 0 to 1); ingest sends the best one
-- without the LLM when it scores at least faq_confidence (0.6) and 0.1 more than the next.
-- Rare words weigh more than common ones, and a misspelt word counts for the one it resembles.
SELECT question, score FROM alphadome.match_faq(:'kassangas', 'what time do you open on saturday?');
SELECT question, score FROM alphadome.match_faq(:'kassangas', 'Mnafungua saa ngapi?');
SELECT question, score FROM alphadome.match_faq(:'kassangas', 'Can I pay in instalments?');
SELECT question, score FROM alphadome.match_faq(:'kassangas', 'Can you deliver to Mombasa?', 1);
SELECT count(*) AS matches FROM alphadome.match_faq(:'kassangas', 'zebra crossing');

-- assemble_prompt: the chat-completions body for a message. The template whose trigger words
-- occur wins; the best FAQ entries follow the rules; the customer's words come last, as user.
\pset format unaligned
\pset tuples_only on
SELECT jsonb_pretty(alphadome.assemble_prompt(:'kassangas', '254711000001', 'How much is a guitar, and do you deliver?'));
\pset format aligned
\pset tuples_only off
RESET ROLE;
-- A tenant's own words for the matcher (docs/sql-api.md).
UPDATE alphadome.bot_control_settings
   SET faq_synonyms = '{"boda": "deliver", "nyanyua": "deliver", "rekebisho": "repair", "tun-": "repair"}'
 WHERE bot_tenant_id = :'kassangas';
