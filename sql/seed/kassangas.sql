-- The first client, Kassangas Music Shop, as the original plan set it up. Idempotent: a
-- second run updates the same tenant. No secret passes through here: psql writes a variable's
-- value into the statement's text, which pg_stat_activity shows and the server may log, and
-- `psql -v` puts it on a command line, which `ps` shows. The tenant is made with placeholder
-- credentials (fine for `make run` in dry-run mode); the real ones are given afterwards with
--   alphadome-relay tenant set-credentials --slug kassangas
-- which reads them from the environment or standard input and sends them as bind parameters
-- (docs/operations.md). Settings that are not secret may come as psql variables:
--   psql -v whatsapp_phone_number_id=... -v client_email=... -f sql/seed/kassangas.sql
\set ON_ERROR_STOP on
\if :{?whatsapp_access_token}
DO $$ BEGIN RAISE EXCEPTION 'the seed takes no secrets: give them with alphadome-relay tenant set-credentials --slug kassangas (docs/operations.md)' USING ERRCODE = '22023'; END $$;
\endif
\if :{?ai_api_key}
DO $$ BEGIN RAISE EXCEPTION 'the seed takes no secrets: give them with alphadome-relay tenant set-credentials --slug kassangas (docs/operations.md)' USING ERRCODE = '22023'; END $$;
\endif
\if :{?whatsapp_phone_number_id}
\else
\set whatsapp_phone_number_id '100000000000001'
\endif
\if :{?client_email}
\else
\set client_email 'owner@kassangas.example'
\endif

BEGIN;

-- create_tenant on the first run, with placeholders for the credentials it requires.
SELECT coalesce(
           alphadome.tenant_for_client_phone('0702245555'),
           alphadome.create_tenant(
               slug => 'kassangas',
               client_name => 'Kassangas Music Shop',
               client_phone => '0702245555',
               whatsapp_phone_number_id => :'whatsapp_phone_number_id',
               whatsapp_access_token => 'placeholder-whatsapp-access-token',
               ai_api_key => 'placeholder-ai-api-key')) AS tenant_id
\gset

UPDATE alphadome.bot_tenants
   SET contact_name = 'Gideon',
       client_email = :'client_email',
       whatsapp_phone_number_id = :'whatsapp_phone_number_id',
       owner_user_id = '823c3bcd-b66f-4010-9922-4a3b411226cc',
       brand_id = '1af71403-b4c3-4eac-9aab-48ee2576a9bb'
 WHERE id = :'tenant_id';

-- The templates say only what is particular to their questions: the shop, its tone and its
-- offers are the personality, written once below (0.3.0; before that the default template's
-- text was the whole persona).
INSERT INTO alphadome.bot_templates AS t (bot_tenant_id, template_name, system_prompt, triggers, is_default)
VALUES
  (:'tenant_id', 'welcome',
   'Greet customers warmly and answer questions about products, prices, stock, opening hours and '
   'location; help them find the right instrument for their level and budget.',
   '{hello,hi,habari,welcome}', true),
  (:'tenant_id', 'product_inquiry',
   'Help the customer choose an instrument or piece of equipment: ask about their level (beginner, '
   'intermediate, professional), the style of music and their budget in KES, then suggest one to three '
   'suitable products from the shop''s range. Never invent a price or stock level you were not given: '
   'offer to check with the team instead.',
   '{price,cost,how much,guitar,keyboard,piano,drum,violin,amplifier,microphone,stock,available}', false),
  (:'tenant_id', 'support',
   'Help customers with orders, deliveries, repairs, returns and warranty questions. Be patient and '
   'clear; when a problem needs a person, give Gideon''s number 0702245555 and say the team will follow up.',
   '{repair,broken,return,refund,warranty,delivery,order,complaint}', false)
ON CONFLICT (bot_tenant_id, template_name) DO UPDATE
   SET system_prompt = excluded.system_prompt,
       triggers = excluded.triggers, is_default = excluded.is_default, is_active = true;

INSERT INTO alphadome.bot_training_data AS d (bot_tenant_id, data_type, question, answer, category)
VALUES
  (:'tenant_id', 'faq', 'What are your opening hours?',
   'We are open Monday-Saturday 9 AM - 6 PM. We are closed on Sundays and public holidays.', 'Business'),
  (:'tenant_id', 'faq', 'Where is the shop located?',
   'Kassangas Music Shop is on Moi Avenue, Nairobi CBD. Call or WhatsApp 0702245555 for directions.', 'Business'),
  (:'tenant_id', 'faq', 'Do you repair instruments?',
   'Yes, we repair guitars, keyboards, drums and amplifiers. Bring the instrument in for a free assessment.', 'Business'),
  (:'tenant_id', 'faq', 'Which guitars do you sell?',
   'We stock acoustic, electric and bass guitars from beginner to professional models, plus strings, '
   'capos, straps and cases.', 'Products'),
  (:'tenant_id', 'faq', 'Do you sell keyboards and pianos?',
   'Yes: portable keyboards for beginners, digital pianos and stage keyboards, with stands and pedals.', 'Products'),
  (:'tenant_id', 'faq', 'Do you deliver?',
   'We deliver within Nairobi the same or next day, and countrywide by courier. Delivery fees depend on the location.', 'Products'),
  (:'tenant_id', 'faq', 'How can I pay?',
   'You can pay by M-Pesa, card or cash in the shop. Our team confirms every payment before delivery.', 'Payment'),
  (:'tenant_id', 'faq', 'Do you offer installment payments?',
   'Yes, for purchases above KES 20,000 we offer a deposit with the balance in up to three monthly payments.', 'Payment'),
  (:'tenant_id', 'canned_reply', 'Hello',
   'Hello and welcome to Kassangas Music Shop! How can we help you today?', 'Business'),
  (:'tenant_id', 'canned_reply', 'Thank you',
   'You are welcome! Thank you for choosing Kassangas Music Shop.', 'Business'),
  (:'tenant_id', 'canned_reply', 'M-Pesa paybill number',
   'Please ask our team for the M-Pesa details on 0702245555: we confirm every payment personally.', 'Payment')
ON CONFLICT (bot_tenant_id, data_type, question) DO UPDATE
   SET answer = excluded.answer, category = excluded.category, is_active = true;

UPDATE alphadome.bot_control_settings
   SET is_bot_enabled = true,
       max_messages_per_hour = 200,
       enable_ai_responses = true,
       enable_payment_flow = false,
       escalation_phone = alphadome.normalize_phone('0702245555')
 WHERE bot_tenant_id = :'tenant_id';

-- Business hours and phrasings came with 0.2.0; the seed also loads into a 0.1.0 database
-- (before an update).
SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'alphadome.bot_control_settings'::regclass
                                          AND attname = 'business_hours') AS is_0_2 \gset
\if :is_0_2
-- Open Monday-Saturday 9 AM - 6 PM, closed on Sundays and Kenya's public holidays.
UPDATE alphadome.bot_control_settings
   SET timezone = 'Africa/Nairobi',
       business_hours = '{"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]],
                          "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]], "sat": [["09:00", "18:00"]],
                          "sun": []}',
       holidays = '{2026-12-12,2026-12-25,2026-12-26,2027-01-01,2027-03-26,2027-03-29,2027-05-01,2027-06-01,2027-10-10,2027-10-20,2027-12-12,2027-12-25,2027-12-26}',
       after_hours_message = 'Thanks for your message! Kassangas Music Shop is closed now and opens again {opening} (Monday-Saturday 9 AM - 6 PM). Gideon or a member of the team will get back to you then.',
       type_replies = '{"location": "Thanks for sharing your location! Kassangas Music Shop is on Moi Avenue, Nairobi CBD; tell us what you are looking for and we will help.",
                        "contacts": "Thanks for the contact! How can we help you or them?",
                        "order": "Thank you for your order! A member of the Kassangas team will confirm availability, payment and delivery shortly."}'
 WHERE bot_tenant_id = :'tenant_id';

-- How Kassangas's customers ask, in English, Swahili and Sheng (and the greetings and thanks).
UPDATE alphadome.bot_training_data d
   SET phrasings = p.phrasings
  FROM (VALUES
    ('faq', 'What are your opening hours?', ARRAY[
        'when are you open', 'what time do you open', 'what time do you close', 'are you open today',
        'are you open on Sunday', 'are you open on Saturday', 'working hours', 'business hours',
        'mnafungua saa ngapi', 'mnafunga saa ngapi', 'saa ngapi mnafungua', 'mko open leo', 'mko wazi leo',
        'mnafungua lini', 'mnafanya kazi siku gani']),
    ('faq', 'Where is the shop located?', ARRAY[
        'where are you', 'where are you located', 'where is your shop', 'location', 'your address',
        'directions to the shop', 'how do I find you', 'mko wapi', 'duka liko wapi', 'mnapatikana wapi',
        'location yenu ni wapi']),
    ('faq', 'Do you repair instruments?', ARRAY[
        'can you fix my guitar', 'my guitar is broken', 'repair my keyboard', 'service my amplifier',
        'mnatengeneza gitaa', 'mnarekebisha vyombo', 'gitaa yangu imeharibika']),
    ('faq', 'Which guitars do you sell?', ARRAY[
        'do you sell guitars', 'do you have guitars', 'electric guitar', 'acoustic guitar', 'bass guitar',
        'guitar strings', 'mnauza gitaa', 'mko na gitaa', 'gitaa']),
    ('faq', 'Do you sell keyboards and pianos?', ARRAY[
        'do you have keyboards', 'digital piano', 'mnauza piano', 'mko na keyboard', 'kinanda']),
    ('faq', 'Do you deliver?', ARRAY[
        'can you deliver to Mombasa', 'delivery', 'shipping', 'do you ship countrywide', 'courier',
        'mnaleta', 'mnadeliver', 'mnatuma mzigo', 'mnaweza kuleta', 'mnafanya delivery']),
    ('faq', 'How can I pay?', ARRAY[
        'how do I pay', 'payment methods', 'do you accept M-Pesa', 'can I pay by card', 'do you take cash',
        'nalipa aje', 'nitalipa vipi', 'malipo', 'njia za kulipa']),
    ('faq', 'Do you offer installment payments?', ARRAY[
        'can I pay in installments', 'pay in instalments', 'monthly payments', 'pay a deposit',
        'lipa pole pole', 'lipa kidogo kidogo', 'mnakubali kulipa kwa awamu', 'hire purchase']),
    ('canned_reply', 'Hello', ARRAY[
        'hi', 'hey', 'hello there', 'good morning', 'good afternoon', 'good evening', 'habari',
        'habari yako', 'hujambo', 'mambo', 'sasa', 'niaje', 'vipi', 'salaam', 'sema']),
    ('canned_reply', 'Thank you', ARRAY[
        'thanks', 'thank you very much', 'thanx', 'thx', 'asante', 'asante sana', 'shukran', 'nashukuru']),
    ('canned_reply', 'M-Pesa paybill number', ARRAY[
        'paybill', 'till number', 'mpesa number', 'lipa na mpesa', 'nambari ya paybill'])
  ) AS p(data_type, question, phrasings)
 WHERE d.bot_tenant_id = :'tenant_id' AND d.data_type = p.data_type AND d.question = p.question;
\endif

-- 0.3.0: the answers that state the hours take them from the settings above ({hours}, {opening},
-- in the customer's language: render_placeholders), so the week editor changes them all.
SELECT to_regproc('alphadome.render_placeholders') IS NOT NULL AS renders_placeholders \gset
\if :renders_placeholders
UPDATE alphadome.bot_training_data
   SET answer = 'We are open {hours}.'
 WHERE bot_tenant_id = :'tenant_id' AND data_type = 'faq' AND question = 'What are your opening hours?';
UPDATE alphadome.bot_control_settings
   SET after_hours_message = 'Thanks for your message! Kassangas Music Shop is closed now and opens again {opening} ({hours}). Gideon or a member of the team will get back to you then.'
 WHERE bot_tenant_id = :'tenant_id';
\endif

-- 0.3.0: the one personality every template builds on (assemble_prompt). No offer is seeded:
-- the owner writes his own (the console's AI persona page).
SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'alphadome.bot_control_settings'::regclass
                                          AND attname = 'persona_tone') AS has_personality \gset
\if :has_personality
UPDATE alphadome.bot_control_settings
   SET persona_tone = 'friendly and warm, in plain words; answer in the language the customer writes in (English or Swahili)',
       shop_description = 'Kassangas Music Shop on Moi Avenue, Nairobi, Kenya, run by Gideon, sells musical instruments '
                          '(guitars, keyboards, drums, violins), amplifiers, microphones, sound equipment and '
                          'accessories, and repairs instruments. Prices are in Kenya shillings (KES).'
 WHERE bot_tenant_id = :'tenant_id';
\endif

COMMIT;
