//! What to do about one inbound message: docs/design.md section 1's decision list, steps 3 to 10.
//! Decided before anything is written, so ingest records the message with its decision in one
//! write and acts only when the message is new. Pure: the facts it may need from the database
//! (the hour's reply count, the FAQ's answer, when the shop opens) are asked for only when
//! reached. A voice note's transcript is decided here too, when it comes (transcript.rs).
use crate::matching::{has_keyword, opt_out, OptOut, Phrases, Said};

/// A tenant's switches and words (bot_control_settings, with the tenant's name).
pub struct Settings {
    pub client_name: String,
    pub is_bot_enabled: bool,
    pub max_messages_per_hour: i32,
    pub enable_ai_responses: bool,
    pub escalation_phone: Option<String>,
    pub fallback_message: String,
    pub opt_out_keywords: Phrases,
    pub opt_in_keywords: Vec<String>,
    pub handoff_keywords: Phrases,
    pub faq_confidence: f32,
    /// The tenant keeps business hours (0.2.0; without them it is always open).
    pub has_business_hours: bool,
    /// The reply to a customer who asks for a person outside them; {opening} says when.
    pub after_hours_message: String,
    /// Replies by message type (location, contacts, order, unsupported; image, video, document
    /// or audio that the bot does not read): `type_replies`.
    pub type_replies: Vec<(String, String)>,
    /// Voice notes are transcribed (`transcription_model` is set).
    pub transcribes_voice: bool,
    /// A photo without a caption goes to the LLM (`enable_media_understanding`).
    pub understands_images: bool,
    /// The bot sells in the chat: buttons to pay, orders, M-Pesa (`enable_payment_flow`).
    pub sells: bool,
}

/// What the decision needs of the customer's conversation.
pub struct Conversation {
    pub customer_key: String,
    /// The name the customer gave WhatsApp (or the shop's app has for him), for alerts.
    pub customer_name: Option<String>,
    pub opted_out: bool,
    /// A person has the conversation (conversations.handoff_at).
    pub handed_off: bool,
    /// The customer asked for a person and waits (conversations.waiting_since, 0.3.0).
    pub waiting: bool,
}

impl Conversation {
    /// The customer as an alert names him: "Jane (+254711000123)", or "+254711000123".
    fn who(&self) -> String {
        match self.customer_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => format!("{name} (+{})", self.customer_key),
            _ => format!("+{}", self.customer_key),
        }
    }
}

/// Facts read from the database, only when the decision gets that far.
pub trait Facts {
    /// The tenant's bot replies in the current clock hour, and that hour as `YYYY-MM-DDTHH`.
    fn replies_this_hour(&mut self) -> (i64, String);
    /// The FAQ or canned answer that clearly fits the question (faq/rank.rs: match_faq's first
    /// row, scoring at least `confidence` and standing out from the next), if there is one.
    fn faq_answer(&mut self, question: &str, confidence: f32) -> Option<String>;
    /// The answer from the tenant's products to a price or availability question, when it
    /// names some (selling.sql's _product_answer). Asked only of such a question.
    fn product_answer(&mut self, question: &str) -> Option<String>;
    /// When the tenant, closed now, opens again: None while it is open. Asked only of a tenant
    /// with business hours.
    fn closed_until(&mut self) -> Option<Closed>;
    /// An answer with the shop's facts put in ({hours}, {opening}: render_placeholders, in the
    /// language of the customer's `message`). Asked only of a text with a placeholder's brace.
    fn render(&mut self, answer: String, message: &str) -> String;
}

/// A tenant closed now: when it opens again in Unix seconds (None: not within two weeks).
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub opens_at: Option<f64>,
}

/// An answer as the customer reads it: its placeholders rendered when it has any.
fn rendered(facts: &mut impl Facts, answer: String, message: &str) -> String {
    if answer.contains('{') {
        facts.render(answer, message)
    } else {
        answer
    }
}

/// The `decision` recorded with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    OptOut,
    OptIn,
    OptedOut,
    BotDisabled,
    HumanHandoff,
    RateLimited,
    Escalated,
    Faq,
    Llm,
    Fallback,
    Recorded,
    AfterHours,
    Transcribe,
    TypeReply,
    Waiting,
    OptOutConfirm,
    Product,
    Payment,
}

impl Verdict {
    /// The value of the `alphadome.message_decision` domain.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::OptOut => "opt_out",
            Verdict::OptIn => "opt_in",
            Verdict::OptedOut => "opted_out",
            Verdict::BotDisabled => "bot_disabled",
            Verdict::HumanHandoff => "human_handoff",
            Verdict::RateLimited => "rate_limited",
            Verdict::Escalated => "escalated",
            Verdict::Faq => "faq",
            Verdict::Llm => "llm",
            Verdict::Fallback => "fallback",
            Verdict::Recorded => "recorded",
            Verdict::AfterHours => "after_hours",
            Verdict::Transcribe => "transcribe",
            Verdict::TypeReply => "type_reply",
            Verdict::Waiting => "waiting",
            Verdict::OptOutConfirm => "opt_out_confirm",
            Verdict::Product => "product",
            Verdict::Payment => "payment",
        }
    }

    /// The customer asked for a person: from now on he waits for one (ingest sets
    /// conversations.waiting_since).
    pub fn starts_waiting(self) -> bool {
        matches!(self, Verdict::Escalated | Verdict::AfterHours)
    }
}

/// The job that answers the customer.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `reply.send` of this text.
    Send(String),
    /// `reply.generate`: the LLM answers this question; the prompt is assembled at claim time.
    Generate(String),
    /// `reply.generate` of the message's photo: the LLM sees the image with the prompt.
    LookAtImage,
    /// `media.transcribe`: the voice note is fetched and transcribed, then decided as text.
    Transcribe,
}

impl Reply {
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Send(_) => "reply.send",
            Reply::Generate(_) | Reply::LookAtImage => "reply.generate",
            Reply::Transcribe => "media.transcribe",
        }
    }

    /// The text the job carries: the reply, the question, or none yet.
    pub fn text(&self) -> &str {
        match self {
            Reply::Send(text) | Reply::Generate(text) => text,
            Reply::LookAtImage | Reply::Transcribe => "",
        }
    }

    /// The job needs the message's media (the photo to look at, the voice note).
    pub fn needs_media(&self) -> bool {
        matches!(self, Reply::LookAtImage | Reply::Transcribe)
    }
}

/// An alert for a person (alphadome.alerts); with a key, at most one per key; with `due`, not
/// before then (Unix seconds).
#[derive(Debug, PartialEq)]
pub struct Alert {
    pub kind: &'static str,
    pub text: String,
    pub key: Option<String>,
    pub due: Option<f64>,
}

impl Alert {
    fn now(kind: &'static str, text: String) -> Alert {
        Alert {
            kind,
            text,
            key: None,
            due: None,
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Plan {
    pub verdict: Verdict,
    pub reply: Option<Reply>,
    pub alert: Option<Alert>,
}

impl Plan {
    fn only(verdict: Verdict) -> Plan {
        Plan {
            verdict,
            reply: None,
            alert: None,
        }
    }

    fn send(verdict: Verdict, text: String) -> Plan {
        Plan {
            verdict,
            reply: Some(Reply::Send(text)),
            alert: None,
        }
    }
}

/// Types whose words are a question: typed or chosen (a button, a list row), a photo's,
/// video's or document's caption, a voice note's transcript.
const QUESTION_TYPES: [&str; 7] = [
    "text",
    "button",
    "interactive",
    "image",
    "video",
    "document",
    "audio",
];

/// Types that are logged and never answered: a reaction, a sticker, a notice such as a changed
/// number.
const SILENT_TYPES: [&str; 3] = ["reaction", "sticker", "system"];

/// One inbound message as the decision sees it.
pub struct Inbound<'a> {
    /// Meta's `type`.
    pub kind: &'a str,
    /// Its words: the text, the chosen title, the caption, the transcript (message.rs).
    pub text: Option<&'a str>,
    /// It carries a media id (a photo, a voice note, ...).
    pub has_media: bool,
    /// The id of the button or list row the customer chose (messages.choice), if he chose one.
    pub choice: Option<&'a str>,
}

/// Words that make a message a question about price or stock, English, Swahili and Sheng: only
/// such a question is looked up in the tenant's products (a cost per message otherwise).
const PRODUCT_QUESTION: [&str; 22] = [
    "how much",
    "price",
    "prices",
    "pricing",
    "cost",
    "costs",
    "in stock",
    "available",
    "do you have",
    "do you sell",
    "bei",
    "ngapi",
    "pesa ngapi",
    "mnauza",
    "mnayo",
    "mko na",
    "iko",
    "ipo",
    "inapatikana",
    "zinapatikana",
    "ni how much",
    "ni ngapi",
];

/// Words of a customer who wants to buy or pay, English, Swahili and Sheng.
const BUY: [&str; 16] = [
    "want to buy",
    "like to buy",
    "wanna buy",
    "i will buy",
    "i'll take it",
    "place an order",
    "how do i pay",
    "how can i pay",
    "nataka kununua",
    "ningependa kununua",
    "nitanunua",
    "nataka kuagiza",
    "nataka kulipa",
    "nitalipa aje",
    "nataka ku buy",
    "nataka kubuy",
];

/// The ids of the buttons and list rows the selling conversation gives (selling.sql's _sell):
/// a product chosen from a list, a way to pay chosen for an order.
const SELLING_CHOICES: [&str; 3] = ["buy:", "pay_mpesa:", "pay_shop:"];

/// Whether the customer wants to buy: he says so, or chose a product or a way to pay.
fn wants_to_buy(words: &Said, choice: Option<&str>) -> bool {
    thread_local! {
        static WORDS: Phrases = Phrases::new(&BUY);
    }
    choice.is_some_and(|id| SELLING_CHOICES.iter().any(|p| id.starts_with(p)))
        || WORDS.with(|phrases| has_keyword(words, phrases))
}

/// Whether the customer asks what something costs or whether the shop has it.
fn asks_about_products(words: &Said) -> bool {
    thread_local! {
        static WORDS: Phrases = Phrases::new(&PRODUCT_QUESTION);
    }
    WORDS.with(|phrases| has_keyword(words, phrases))
}

/// How much of the customer's words an alert quotes.
const QUOTE_CHARS: usize = 500;

pub fn plan_reply(
    settings: &Settings,
    conversation: &Conversation,
    message: &Inbound,
    facts: &mut impl Facts,
) -> Plan {
    let client = &settings.client_name;
    let (message_type, body) = (message.kind, message.text);
    let said = body.map(str::trim).unwrap_or_default();
    let is_text = QUESTION_TYPES.contains(&message_type) && !said.is_empty();
    let lowered = said.to_lowercase();
    let is_one_of =
        |words: &[String]| is_text && words.iter().any(|w| w.trim().to_lowercase() == lowered);
    // Read into words only where they are compared: a text the bot may answer.
    let words = Said::new(if is_text { said } else { "" });
    let stop = if is_text {
        opt_out(&words, &settings.opt_out_keywords)
    } else {
        OptOut::No
    };

    // 3. Opt-out and opt-in words: confirm once, then silence until opt-in. (A message that may
    //    mean stop is asked about below, when the bot may speak.)
    if stop == OptOut::Clear {
        if conversation.opted_out {
            return Plan::only(Verdict::OptedOut);
        }
        return Plan::send(
            Verdict::OptOut,
            format!(
                "You will not get more messages from {client}. Reply START to hear from us again."
            ),
        );
    }
    if conversation.opted_out {
        if is_one_of(&settings.opt_in_keywords) {
            return Plan::send(
                Verdict::OptIn,
                format!("Welcome back to {client}! How can we help you?"),
            );
        }
        return Plan::only(Verdict::OptedOut);
    }
    // 4. Bot off, or a person has taken the conversation over.
    if !settings.is_bot_enabled {
        return Plan::only(Verdict::BotDisabled);
    }
    if conversation.handed_off {
        return Plan::only(Verdict::HumanHandoff);
    }
    // The customer asked for a person and waits: the bot does not talk over the person who
    //    will answer (handoff_chores resumes it after handoff_timeout).
    if conversation.waiting {
        return Plan::only(Verdict::Waiting);
    }
    if SILENT_TYPES.contains(&message_type) {
        return Plan::only(Verdict::Recorded);
    }
    // 5. The reply budget of this clock hour. Concurrent ingests of one tenant do not see each
    //    other's uncommitted counts, so they can pass it by at most their number.
    let (replies, hour) = facts.replies_this_hour();
    if replies >= i64::from(settings.max_messages_per_hour) {
        return Plan {
            verdict: Verdict::RateLimited,
            reply: None,
            alert: Some(Alert {
                key: Some(format!("rate_limit:{hour}")),
                ..Alert::now(
                    "rate_limit",
                    format!(
                        "{client}: the bot reached its limit of {} replies an hour; customers are not being answered until the hour passes.",
                        settings.max_messages_per_hour
                    ),
                )
            }),
        };
    }
    if stop == OptOut::Unsure {
        let word = settings
            .opt_out_keywords
            .first()
            .map_or("STOP".to_string(), |w| w.to_uppercase());
        return Plan::send(
            Verdict::OptOutConfirm,
            format!("If you want no more messages from {client}, reply {word}. Otherwise, tell us how we can help."),
        );
    }
    let quote = || {
        body.unwrap_or_default()
            .chars()
            .take(QUOTE_CHARS)
            .collect::<String>()
    };
    let customer = &conversation.customer_key;
    // 6. The customer asks for a person.
    if is_text {
        // The "Talk to a person" button of the selling conversation asks for one in any language.
        if has_keyword(&words, &settings.handoff_keywords) || message.choice == Some("talk_person")
        {
            let asked = format!(
                "{client}: {} asked for a person: «{}»",
                conversation.who(),
                quote()
            );
            // Outside business hours: told when, and the alert waits for the opening.
            if let Some(closed) = settings
                .has_business_hours
                .then(|| facts.closed_until())
                .flatten()
            {
                return Plan {
                    verdict: Verdict::AfterHours,
                    reply: Some(Reply::Send(rendered(
                        facts,
                        settings.after_hours_message.clone(),
                        said,
                    ))),
                    alert: Some(Alert {
                        due: closed.opens_at,
                        ..Alert::now("handoff", format!("{asked} (outside business hours)"))
                    }),
                };
            }
            let call = match &settings.escalation_phone {
                Some(phone) => format!(" shortly. You can also call +{phone}."),
                None => " shortly.".to_string(),
            };
            return Plan {
                verdict: Verdict::Escalated,
                reply: Some(Reply::Send(format!(
                    "A member of the {client} team will get back to you{call}"
                ))),
                alert: Some(Alert::now("handoff", asked)),
            };
        }
        // 6a. The customer wants to buy (and the shop sells in the chat): selling.sql's _sell
        //    answers once the message is recorded, with a list of products or the buttons to pay
        //    (issue 24); it writes an order, so it runs only for a new message.
        if settings.sells && wants_to_buy(&words, message.choice) {
            return Plan::only(Verdict::Payment);
        }
        // 6b. A price or availability question that names the shop's products: answered from
        //    them, prices as the owner set them (issue 24).
        if asks_about_products(&words) {
            if let Some(answer) = facts.product_answer(said) {
                return Plan::send(Verdict::Product, answer);
            }
        }
        // 7. A clear FAQ or canned answer costs no LLM call.
        if let Some(answer) = facts.faq_answer(said, settings.faq_confidence) {
            let answer = rendered(facts, answer, said);
            return Plan::send(Verdict::Faq, answer);
        }
        // 8. The LLM writes the answer.
        if settings.enable_ai_responses {
            return Plan {
                verdict: Verdict::Llm,
                reply: Some(Reply::Generate(body.unwrap_or_default().to_string())),
                alert: None,
            };
        }
    }
    // 8b. Media without words: a voice note is heard, a photo looked at, when switched on.
    if !is_text && message.has_media {
        if message_type == "audio" && settings.transcribes_voice {
            return Plan {
                verdict: Verdict::Transcribe,
                reply: Some(Reply::Transcribe),
                alert: None,
            };
        }
        if message_type == "image" && settings.understands_images && settings.enable_ai_responses {
            return Plan {
                verdict: Verdict::Llm,
                reply: Some(Reply::LookAtImage),
                alert: None,
            };
        }
    }
    // 9. The tenant's reply for this type of message (a place, a contact card, an order, ...).
    if !is_text {
        let own = settings
            .type_replies
            .iter()
            .find(|(kind, _)| kind == message_type);
        if let Some((_, text)) = own.filter(|(_, text)| !text.trim().is_empty()) {
            return Plan::send(Verdict::TypeReply, text.clone());
        }
    }
    // 10. Nothing matched and no AI, or nothing to read: the fallback text.
    Plan {
        verdict: Verdict::Fallback,
        reply: Some(Reply::Send(settings.fallback_message.clone())),
        alert: is_text.then(|| {
            Alert::now(
                "no_answer",
                format!("{client}: no answer for customer +{customer}: {}", quote()),
            )
        }),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Facts from fixed values, counting how often each was asked.
    struct Known {
        replies: i64,
        faq: Option<(String, f32)>,
        closed: Option<Closed>,
        asked_count: u32,
        asked_faq: u32,
        products: Option<String>,
        asked_products: u32,
    }

    impl Facts for Known {
        fn replies_this_hour(&mut self) -> (i64, String) {
            self.asked_count += 1;
            (self.replies, "2026-11-28T23".to_string())
        }
        fn faq_answer(&mut self, _question: &str, confidence: f32) -> Option<String> {
            self.asked_faq += 1;
            self.faq
                .clone()
                .filter(|(_, score)| *score >= confidence)
                .map(|(answer, _)| answer)
        }
        fn product_answer(&mut self, _question: &str) -> Option<String> {
            self.asked_products += 1;
            self.products.clone()
        }
        fn closed_until(&mut self) -> Option<Closed> {
            self.closed.clone()
        }
        fn render(&mut self, answer: String, message: &str) -> String {
            let opening = if message.contains("saa") {
                "Jumatatu saa 3 asubuhi"
            } else {
                "Monday at 09:00"
            };
            answer
                .replace("{opening}", opening)
                .replace("{hours}", "Mon-Sat 9-18")
        }
    }

    fn known(replies: i64, faq: Option<(&str, f32)>) -> Known {
        Known {
            replies,
            faq: faq.map(|(a, s)| (a.to_string(), s)),
            closed: None,
            asked_count: 0,
            asked_faq: 0,
            products: None,
            asked_products: 0,
        }
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    fn shop() -> Settings {
        Settings {
            client_name: "Kassangas Music Shop".into(),
            is_bot_enabled: true,
            max_messages_per_hour: 200,
            enable_ai_responses: true,
            escalation_phone: Some("254702245555".into()),
            fallback_message: "Thanks! We will get back to you.".into(),
            opt_out_keywords: Phrases::new(&["STOP", "unsubscribe"]),
            opt_in_keywords: words(&["START"]),
            handoff_keywords: Phrases::new(&["human", "talk to a person"]),
            faq_confidence: 0.6,
            has_business_hours: false,
            after_hours_message: "Closed; we open {opening}.".into(),
            type_replies: vec![(
                "location".into(),
                "Thanks for the pin! Our shop is on Moi Avenue.".into(),
            )],
            transcribes_voice: true,
            understands_images: false,
            sells: false,
        }
    }

    fn customer() -> Conversation {
        Conversation {
            customer_key: "254711000001".into(),
            customer_name: None,
            opted_out: false,
            handed_off: false,
            waiting: false,
        }
    }

    fn plan(
        settings: &Settings,
        conversation: &Conversation,
        kind: &str,
        body: &str,
        facts: &mut Known,
    ) -> Plan {
        let message = Inbound {
            kind,
            text: Some(body),
            has_media: false,
            choice: None,
        };
        plan_reply(settings, conversation, &message, facts)
    }

    fn media(kind: &str, caption: Option<&str>, settings: &Settings, facts: &mut Known) -> Plan {
        let message = Inbound {
            kind,
            text: caption,
            has_media: true,
            choice: None,
        };
        plan_reply(settings, &customer(), &message, facts)
    }

    #[test]
    fn stop_confirms_once_then_silence_until_start() {
        let mut facts = known(0, None);
        let first = plan(&shop(), &customer(), "text", "  stop ", &mut facts);
        assert_eq!(first.verdict, Verdict::OptOut);
        assert!(first.reply.unwrap().text().contains("Reply START"));
        let gone = Conversation {
            opted_out: true,
            ..customer()
        };
        assert_eq!(
            plan(&shop(), &gone, "text", "STOP", &mut facts),
            Plan::only(Verdict::OptedOut)
        );
        assert_eq!(
            plan(&shop(), &gone, "text", "hello?", &mut facts),
            Plan::only(Verdict::OptedOut)
        );
        assert_eq!(
            plan(&shop(), &gone, "image", "", &mut facts),
            Plan::only(Verdict::OptedOut)
        );
        let back = plan(&shop(), &gone, "text", "Start", &mut facts);
        assert_eq!(back.verdict, Verdict::OptIn);
        assert_eq!(
            back.reply,
            Some(Reply::Send(
                "Welcome back to Kassangas Music Shop! How can we help you?".into()
            ))
        );
        assert_eq!(
            (facts.asked_count, facts.asked_faq),
            (0, 0),
            "opt words need no database read"
        );
    }

    #[test]
    fn a_stop_inside_a_sentence_is_not_an_opt_out() {
        let mut facts = known(0, None);
        assert_eq!(
            plan(
                &shop(),
                &customer(),
                "text",
                "don't stop the music",
                &mut facts
            )
            .verdict,
            Verdict::Llm
        );
    }

    #[test]
    fn bot_off_and_human_handoff_record_only() {
        let mut facts = known(0, None);
        let off = Settings {
            is_bot_enabled: false,
            ..shop()
        };
        assert_eq!(
            plan(&off, &customer(), "text", "hi", &mut facts),
            Plan::only(Verdict::BotDisabled)
        );
        let taken = Conversation {
            handed_off: true,
            ..customer()
        };
        assert_eq!(
            plan(&shop(), &taken, "text", "hi", &mut facts),
            Plan::only(Verdict::HumanHandoff)
        );
        // Opting out still works when the bot is off: the customer's wish is recorded and confirmed.
        assert_eq!(
            plan(&off, &customer(), "text", "STOP", &mut facts).verdict,
            Verdict::OptOut
        );
    }

    #[test]
    fn reactions_and_system_notices_are_recorded_without_a_reply() {
        let mut facts = known(0, None);
        assert_eq!(
            plan(&shop(), &customer(), "reaction", "👍", &mut facts),
            Plan::only(Verdict::Recorded)
        );
        assert_eq!(
            plan(&shop(), &customer(), "system", "changed number", &mut facts),
            Plan::only(Verdict::Recorded)
        );
    }

    #[test]
    fn at_the_hourly_limit_no_reply_and_one_keyed_alert() {
        let mut facts = known(200, Some(("We open at 9.", 1.0)));
        let limited = plan(&shop(), &customer(), "text", "opening hours?", &mut facts);
        assert_eq!(limited.verdict, Verdict::RateLimited);
        assert_eq!(limited.reply, None);
        let alert = limited.alert.unwrap();
        assert_eq!(alert.key.as_deref(), Some("rate_limit:2026-11-28T23"));
        assert!(
            alert.text.contains("limit of 200 replies an hour"),
            "{}",
            alert.text
        );
        assert_eq!(facts.asked_faq, 0, "no FAQ lookup past the limit");
        let mut below = known(199, Some(("We open at 9.", 1.0)));
        assert_eq!(
            plan(&shop(), &customer(), "text", "opening hours?", &mut below).verdict,
            Verdict::Faq
        );
    }

    #[test]
    fn asking_for_a_person_escalates_with_the_phone_and_an_alert() {
        let mut facts = known(0, None);
        let asked = plan(
            &shop(),
            &customer(),
            "text",
            "Can I talk to a person please",
            &mut facts,
        );
        assert_eq!(asked.verdict, Verdict::Escalated);
        assert_eq!(
            asked.reply,
            Some(Reply::Send(
                "A member of the Kassangas Music Shop team will get back to you shortly. You can also call +254702245555.".into()
            ))
        );
        assert_eq!(
            asked.alert.unwrap().text,
            "Kassangas Music Shop: +254711000001 asked for a person: «Can I talk to a person please»"
        );
        let named = Conversation {
            customer_name: Some("Jane".into()),
            ..customer()
        };
        assert!(plan(&shop(), &named, "text", "human", &mut facts)
            .alert
            .unwrap()
            .text
            .contains("Jane (+254711000001) asked for a person"));
        let no_phone = Settings {
            escalation_phone: None,
            ..shop()
        };
        let reply = plan(&no_phone, &customer(), "text", "human", &mut facts)
            .reply
            .unwrap();
        assert!(
            reply.text().ends_with("get back to you shortly."),
            "{}",
            reply.text()
        );
    }

    #[test]
    fn a_waiting_customer_gets_silence_but_still_opts_out() {
        let mut facts = known(0, Some(("We open at 9.", 0.9)));
        let waiting = Conversation {
            waiting: true,
            ..customer()
        };
        for message in ["Hello? Is anyone there?", "opening hours?", "human please"] {
            assert_eq!(
                plan(&shop(), &waiting, "text", message, &mut facts),
                Plan::only(Verdict::Waiting),
                "{message}"
            );
        }
        assert_eq!(
            plan(&shop(), &waiting, "text", "stop please", &mut facts).verdict,
            Verdict::OptOut
        );
        assert!(Verdict::Escalated.starts_waiting() && Verdict::AfterHours.starts_waiting());
        assert!(!Verdict::Faq.starts_waiting());
    }

    #[test]
    fn swahili_and_sheng_words_ask_for_a_person_and_to_stop() {
        let settings = Settings {
            handoff_keywords: Phrases::new(&["human", "nataka kuongea na mtu", "niongee na mtu"]),
            opt_out_keywords: Phrases::new(&["stop", "acha kunitumia", "sitaki messages"]),
            ..shop()
        };
        let mut facts = known(0, None);
        assert_eq!(
            plan(
                &settings,
                &customer(),
                "text",
                "Nataka kuongea na mtu tafadhali",
                &mut facts
            )
            .verdict,
            Verdict::Escalated
        );
        assert_eq!(
            plan(
                &settings,
                &customer(),
                "text",
                "Acha kunitumia messages",
                &mut facts
            )
            .verdict,
            Verdict::OptOut
        );
        assert_eq!(
            plan(&settings, &customer(), "text", "stop please", &mut facts).verdict,
            Verdict::OptOut
        );
        let unsure = plan(
            &settings,
            &customer(),
            "text",
            "too many messages from you guys stop",
            &mut facts,
        );
        assert_eq!(unsure.verdict, Verdict::OptOutConfirm);
        assert!(unsure.reply.unwrap().text().contains("reply STOP"));
    }

    #[test]
    fn a_confident_faq_answer_is_sent_and_a_weak_one_goes_to_the_llm() {
        let mut sure = known(0, Some(("We open at 9.", 0.6)));
        assert_eq!(
            plan(&shop(), &customer(), "text", "opening hours?", &mut sure),
            Plan::send(Verdict::Faq, "We open at 9.".into())
        );
        let mut weak = known(0, Some(("We open at 9.", 0.59)));
        let llm = plan(
            &shop(),
            &customer(),
            "text",
            "  do you sell drums? ",
            &mut weak,
        );
        assert_eq!(llm.verdict, Verdict::Llm);
        assert_eq!(
            llm.reply,
            Some(Reply::Generate("  do you sell drums? ".into())),
            "the LLM gets the words as sent"
        );
    }

    #[test]
    fn a_price_question_naming_products_is_answered_from_them_before_the_faq() {
        let prices = "Our prices:\n• Yamaha PSR-E373: KES 32,000 (in stock)";
        for asked in [
            "How much is a Yamaha keyboard?",
            "bei ya kinanda ni ngapi",
            "do you have yamaha keyboards in stock",
        ] {
            let mut facts = Known {
                products: Some(prices.into()),
                ..known(0, Some(("We sell many keyboards.", 0.9)))
            };
            let planned = plan(&shop(), &customer(), "text", asked, &mut facts);
            assert_eq!(
                planned,
                Plan::send(Verdict::Product, prices.into()),
                "{asked}"
            );
            assert_eq!(planned.verdict.as_str(), "product");
            assert_eq!((facts.asked_products, facts.asked_faq), (1, 0), "{asked}");
        }
    }

    #[test]
    fn products_are_asked_only_about_prices_and_a_miss_goes_on_to_the_faq() {
        // Not a price question: the products are not looked up at all.
        let mut facts = Known {
            products: Some("Our prices: ...".into()),
            ..known(0, Some(("We open at 9.", 0.9)))
        };
        let planned = plan(&shop(), &customer(), "text", "opening hours?", &mut facts);
        assert_eq!(planned.verdict, Verdict::Faq);
        assert_eq!(facts.asked_products, 0);
        // A price question that names no product: the FAQ, then the LLM, as before.
        let mut none = known(0, Some(("Delivery is KES 300.", 0.9)));
        let planned = plan(
            &shop(),
            &customer(),
            "text",
            "how much is delivery?",
            &mut none,
        );
        assert_eq!(
            planned,
            Plan::send(Verdict::Faq, "Delivery is KES 300.".into())
        );
        assert_eq!(none.asked_products, 1);
        let mut nothing = known(0, None);
        let planned = plan(
            &shop(),
            &customer(),
            "text",
            "how much is delivery?",
            &mut nothing,
        );
        assert_eq!(planned.verdict, Verdict::Llm);
    }

    #[test]
    fn without_ai_an_unanswered_question_gets_the_fallback_and_an_alert() {
        let mut facts = known(0, None);
        let no_ai = Settings {
            enable_ai_responses: false,
            ..shop()
        };
        let long = "x".repeat(600);
        let fallback = plan(&no_ai, &customer(), "text", &long, &mut facts);
        assert_eq!(fallback.verdict, Verdict::Fallback);
        assert_eq!(
            fallback.reply,
            Some(Reply::Send("Thanks! We will get back to you.".into()))
        );
        let alert = fallback.alert.unwrap();
        assert_eq!(
            alert.text,
            format!(
                "Kassangas Music Shop: no answer for customer +254711000001: {}",
                "x".repeat(500)
            )
        );
        assert_eq!(alert.key, None);
    }

    #[test]
    fn a_caption_or_a_chosen_button_is_a_question_like_typed_text() {
        for kind in ["image", "video", "document", "button", "interactive"] {
            let mut facts = known(0, Some(("We open at 9.", 0.9)));
            let asked = media(kind, Some("opening hours?"), &shop(), &mut facts);
            assert_eq!(
                asked,
                Plan::send(Verdict::Faq, "We open at 9.".into()),
                "{kind}"
            );
        }
        let mut facts = known(0, None);
        assert_eq!(
            media("image", Some("talk to a person"), &shop(), &mut facts).verdict,
            Verdict::Escalated
        );
    }

    #[test]
    fn a_voice_note_is_transcribed_when_switched_on_and_its_transcript_decided_as_text() {
        let mut facts = known(0, Some(("We open at 9.", 0.9)));
        let heard = media("audio", None, &shop(), &mut facts);
        assert_eq!(
            (heard.verdict, heard.reply),
            (Verdict::Transcribe, Some(Reply::Transcribe))
        );
        assert_eq!(facts.asked_faq, 0);
        let transcript = media("audio", Some("mnafungua saa ngapi"), &shop(), &mut facts);
        assert_eq!(transcript, Plan::send(Verdict::Faq, "We open at 9.".into()));
        let deaf = Settings {
            transcribes_voice: false,
            ..shop()
        };
        assert_eq!(
            media("audio", None, &deaf, &mut facts),
            Plan::send(Verdict::Fallback, "Thanks! We will get back to you.".into()),
            "no transcription: the fallback, and no alert (there is nothing to quote)"
        );
    }

    #[test]
    fn a_photo_without_a_caption_goes_to_the_llm_only_when_media_understanding_is_on() {
        let mut facts = known(0, None);
        let looking = Settings {
            understands_images: true,
            ..shop()
        };
        let seen = media("image", None, &looking, &mut facts);
        assert_eq!(
            (seen.verdict, seen.reply),
            (Verdict::Llm, Some(Reply::LookAtImage))
        );
        assert!(Reply::LookAtImage.needs_media() && Reply::Transcribe.needs_media());
        assert_eq!(
            media("image", None, &shop(), &mut facts).verdict,
            Verdict::Fallback
        );
        let no_ai = Settings {
            enable_ai_responses: false,
            ..looking
        };
        assert_eq!(
            media("image", None, &no_ai, &mut facts).verdict,
            Verdict::Fallback
        );
    }

    #[test]
    fn places_cards_and_orders_get_the_tenants_reply_for_their_type_or_the_fallback() {
        let mut facts = known(0, Some(("We open at 9.", 1.0)));
        let pin = plan(
            &shop(),
            &customer(),
            "location",
            "Philz Coffee, 101 Forest Ave",
            &mut facts,
        );
        assert_eq!(
            pin,
            Plan::send(
                Verdict::TypeReply,
                "Thanks for the pin! Our shop is on Moi Avenue.".into()
            )
        );
        for kind in ["contacts", "order", "unsupported", "unknown"] {
            assert_eq!(
                plan(&shop(), &customer(), kind, "opening hours", &mut facts),
                Plan::send(Verdict::Fallback, "Thanks! We will get back to you.".into()),
                "{kind}"
            );
        }
        assert_eq!(
            facts.asked_faq, 0,
            "only questions are looked up in the FAQ"
        );
        let blank = Settings {
            type_replies: vec![("order".into(), "  ".into())],
            ..shop()
        };
        assert_eq!(
            plan(&blank, &customer(), "order", "", &mut facts).verdict,
            Verdict::Fallback
        );
    }

    #[test]
    fn stickers_reactions_and_notices_stay_silent_and_the_gates_still_hold() {
        let mut facts = known(0, None);
        for kind in ["sticker", "reaction", "system"] {
            assert_eq!(
                media(kind, None, &shop(), &mut facts),
                Plan::only(Verdict::Recorded),
                "{kind}"
            );
        }
        let off = Settings {
            is_bot_enabled: false,
            ..shop()
        };
        assert_eq!(
            media("audio", None, &off, &mut facts),
            Plan::only(Verdict::BotDisabled)
        );
        let mut full = known(200, None);
        assert_eq!(
            media("audio", None, &shop(), &mut full).verdict,
            Verdict::RateLimited
        );
    }

    #[test]
    fn outside_business_hours_a_request_for_a_person_is_told_when_and_its_alert_waits() {
        let hours = Settings {
            has_business_hours: true,
            ..shop()
        };
        let mut facts = known(0, None);
        facts.closed = Some(Closed {
            opens_at: Some(1_796_018_400.0),
        });
        let closed = plan(&hours, &customer(), "text", "I want a human", &mut facts);
        assert_eq!(closed.verdict, Verdict::AfterHours);
        assert_eq!(
            closed.reply,
            Some(Reply::Send("Closed; we open Monday at 09:00.".into()))
        );
        let alert = closed.alert.unwrap();
        assert_eq!((alert.kind, alert.due), ("handoff", Some(1_796_018_400.0)));
        assert!(
            alert.text.ends_with("(outside business hours)"),
            "{}",
            alert.text
        );
        // Open: the usual escalation. Without hours the question is never asked.
        facts.closed = None;
        assert_eq!(
            plan(&hours, &customer(), "text", "human", &mut facts).verdict,
            Verdict::Escalated
        );
        let mut closed_but_no_hours = known(0, None);
        closed_but_no_hours.closed = facts.closed.clone().or(Some(Closed { opens_at: None }));
        assert_eq!(
            plan(
                &shop(),
                &customer(),
                "text",
                "human",
                &mut closed_but_no_hours
            )
            .verdict,
            Verdict::Escalated
        );
        // FAQ answers go on as usual at night.
        let mut night = known(0, Some(("We open at 9.", 0.9)));
        night.closed = Some(Closed { opens_at: None });
        assert_eq!(
            plan(&hours, &customer(), "text", "opening hours?", &mut night).verdict,
            Verdict::Faq
        );
    }

    #[test]
    fn answers_that_state_the_hours_are_rendered_in_the_customers_words() {
        let mut faq = known(0, Some(("We are open {hours}.", 0.9)));
        assert_eq!(
            plan(&shop(), &customer(), "text", "opening hours?", &mut faq).reply,
            Some(Reply::Send("We are open Mon-Sat 9-18.".into()))
        );
        let hours = Settings {
            has_business_hours: true,
            ..shop()
        };
        let mut night = known(0, None);
        night.closed = Some(Closed { opens_at: None });
        assert_eq!(
            plan(
                &hours,
                &customer(),
                "text",
                "human tafadhali, saa hii",
                &mut night
            )
            .reply,
            Some(Reply::Send(
                "Closed; we open Jumatatu saa 3 asubuhi.".into()
            ))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn kinds() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "text",
                "button",
                "interactive",
                "image",
                "audio",
                "location",
                "reaction",
                "system",
                "sticker",
                "unknown",
            ])
        }

        fn bodies() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("STOP".to_string()),
                Just("start".to_string()),
                Just("I want a human".to_string()),
                Just("What are your opening hours?".to_string()),
                Just(String::new()),
                "\\PC{0,40}",
            ]
        }

        proptest! {
            /// Whatever the switches, the conversation and the message, the decision list
            /// keeps its promises: silence where it promises silence, never an empty reply,
            /// and no reply past the hourly limit unless it confirms an opt-out or opt-in.
            #[test]
            fn the_decision_list_keeps_its_promises(
                enabled in any::<bool>(), ai in any::<bool>(), opted_out in any::<bool>(),
                handed_off in any::<bool>(), waiting in any::<bool>(), replies in 0i64..400, limit in 0i32..300,
                kind in kinds(), body in bodies(), faq_score in proptest::option::of(0.0f32..=1.0),
                has_media in any::<bool>(), hears in any::<bool>(), looks in any::<bool>(),
            ) {
                let settings = Settings { is_bot_enabled: enabled, enable_ai_responses: ai, max_messages_per_hour: limit,
                                          transcribes_voice: hears, understands_images: looks, ..shop() };
                let conversation = Conversation { opted_out, handed_off, waiting, ..customer() };
                let mut facts = known(replies, faq_score.map(|s| ("An answer", s)));
                let message = Inbound { kind, text: Some(&body), has_media, choice: None };
                let plan = plan_reply(&settings, &conversation, &message, &mut facts);
                let confirms = matches!(plan.verdict, Verdict::OptOut | Verdict::OptIn);
                if let Some(reply) = &plan.reply {
                    prop_assert!(!reply.text().trim().is_empty() || reply.needs_media(), "{plan:?}");
                    prop_assert!(confirms || !opted_out, "an opted-out customer got {plan:?}");
                    prop_assert!(confirms || enabled, "a switched-off bot answered: {plan:?}");
                    prop_assert!(confirms || !handed_off, "a handed-off conversation got {plan:?}");
                    prop_assert!(confirms || !waiting, "a customer waiting for a person got {plan:?}");
                    prop_assert!(confirms || replies < i64::from(limit), "over the limit: {plan:?}");
                    prop_assert!(!matches!(kind, "reaction" | "system" | "sticker") || confirms, "{plan:?}");
                    match reply {
                        Reply::Send(_) => {}
                        Reply::Generate(_) => prop_assert!(ai && plan.verdict == Verdict::Llm, "{plan:?}"),
                        Reply::LookAtImage => prop_assert!(ai && looks && has_media && kind == "image", "{plan:?}"),
                        Reply::Transcribe => prop_assert!(hears && has_media && kind == "audio", "{plan:?}"),
                    }
                }
                if plan.verdict == Verdict::Faq {
                    prop_assert!(faq_score.is_some_and(|s| s >= settings.faq_confidence));
                }
            }
        }
    }
}
