//! What to do about one inbound message: docs/design.md section 1's decision list, steps 3 to 9.
//! Decided before anything is written, so ingest records the message with its decision in one
//! write and acts only when the message is new. Pure: the two facts it may need from the
//! database, the hour's reply count and the best FAQ answer, are asked for only when reached.
use crate::matching::has_keyword;

/// A tenant's switches and words (bot_control_settings, with the tenant's name).
pub struct Settings {
    pub client_name: String,
    pub is_bot_enabled: bool,
    pub max_messages_per_hour: i32,
    pub enable_ai_responses: bool,
    pub escalation_phone: Option<String>,
    pub fallback_message: String,
    pub opt_out_keywords: Vec<String>,
    pub opt_in_keywords: Vec<String>,
    pub handoff_keywords: Vec<String>,
    pub faq_confidence: f32,
    /// The tenant keeps business hours (0.2.0; without them it is always open).
    pub has_business_hours: bool,
    /// The reply to a customer who asks for a person outside them; {opening} says when.
    pub after_hours_message: String,
}

/// What the decision needs of the customer's conversation.
pub struct Conversation {
    pub customer_key: String,
    pub opted_out: bool,
    pub handed_off: bool,
}

/// Facts read from the database, only when the decision gets that far.
pub trait Facts {
    /// The tenant's bot replies in the current clock hour, and that hour as `YYYY-MM-DDTHH`.
    fn replies_this_hour(&mut self) -> (i64, String);
    /// The best FAQ or canned answer for the message's text (match_faq's first row), with its score.
    fn best_faq(&mut self) -> Option<(String, f32)>;
    /// When the tenant, closed now, opens again: None while it is open. Asked only of a tenant
    /// with business hours.
    fn closed_until(&mut self) -> Option<Closed>;
}

/// A tenant closed now: when it opens again, in words and in Unix seconds (None: not within
/// two weeks).
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub words: String,
    pub opens_at: Option<f64>,
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
        }
    }
}

/// The job that answers the customer.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `reply.send` of this text.
    Send(String),
    /// `reply.generate`: the LLM answers this question; the prompt is assembled at claim time.
    Generate(String),
}

impl Reply {
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Send(_) => "reply.send",
            Reply::Generate(_) => "reply.generate",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Reply::Send(text) | Reply::Generate(text) => text,
        }
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

/// Types whose text a customer typed or chose; only these can be keywords or FAQ questions.
const TEXT_TYPES: [&str; 3] = ["text", "button", "interactive"];

/// Types that are logged and never answered: a reaction, or a notice such as a changed number.
const SILENT_TYPES: [&str; 2] = ["reaction", "system"];

/// How much of the customer's words an alert quotes.
const QUOTE_CHARS: usize = 500;

pub fn plan_reply(
    settings: &Settings,
    conversation: &Conversation,
    message_type: &str,
    body: Option<&str>,
    facts: &mut impl Facts,
) -> Plan {
    let client = &settings.client_name;
    let said = body.map(str::trim).unwrap_or_default();
    let is_text = TEXT_TYPES.contains(&message_type) && !said.is_empty();
    let lowered = said.to_lowercase();
    let is_one_of =
        |words: &[String]| is_text && words.iter().any(|w| w.trim().to_lowercase() == lowered);

    // 3. Opt-out and opt-in words: confirm once, then silence until opt-in.
    if is_one_of(&settings.opt_out_keywords) {
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
    let quote = || {
        body.unwrap_or_default()
            .chars()
            .take(QUOTE_CHARS)
            .collect::<String>()
    };
    let customer = &conversation.customer_key;
    // 6. The customer asks for a person.
    if is_text {
        let handoff: Vec<&str> = settings
            .handoff_keywords
            .iter()
            .map(String::as_str)
            .collect();
        if has_keyword(said, &handoff) {
            let asked = format!(
                "{client}: customer +{customer} asked for a person: {}",
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
                    reply: Some(Reply::Send(
                        settings
                            .after_hours_message
                            .replace("{opening}", &closed.words),
                    )),
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
        // 7. A confident FAQ or canned answer costs no LLM call.
        if let Some((answer, score)) = facts.best_faq() {
            if score >= settings.faq_confidence {
                return Plan::send(Verdict::Faq, answer);
            }
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
    // 9. Nothing matched and no AI, or not text (media, location, ...): the fallback text.
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
    }

    impl Facts for Known {
        fn replies_this_hour(&mut self) -> (i64, String) {
            self.asked_count += 1;
            (self.replies, "2026-11-28T23".to_string())
        }
        fn best_faq(&mut self) -> Option<(String, f32)> {
            self.asked_faq += 1;
            self.faq.clone()
        }
        fn closed_until(&mut self) -> Option<Closed> {
            self.closed.clone()
        }
    }

    fn known(replies: i64, faq: Option<(&str, f32)>) -> Known {
        Known {
            replies,
            faq: faq.map(|(a, s)| (a.to_string(), s)),
            closed: None,
            asked_count: 0,
            asked_faq: 0,
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
            opt_out_keywords: words(&["STOP", "unsubscribe"]),
            opt_in_keywords: words(&["START"]),
            handoff_keywords: words(&["human", "talk to a person"]),
            faq_confidence: 0.6,
            has_business_hours: false,
            after_hours_message: "Closed; we open {opening}.".into(),
        }
    }

    fn customer() -> Conversation {
        Conversation {
            customer_key: "254711000001".into(),
            opted_out: false,
            handed_off: false,
        }
    }

    fn plan(
        settings: &Settings,
        conversation: &Conversation,
        kind: &str,
        body: &str,
        facts: &mut Known,
    ) -> Plan {
        plan_reply(settings, conversation, kind, Some(body), facts)
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
            "Kassangas Music Shop: customer +254711000001 asked for a person: Can I talk to a person please"
        );
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
    fn media_gets_the_fallback_without_an_alert_even_with_ai_on() {
        let mut facts = known(0, Some(("We open at 9.", 1.0)));
        for kind in ["image", "location", "audio", "unsupported"] {
            let media = plan_reply(
                &shop(),
                &customer(),
                kind,
                Some("a caption about opening hours"),
                &mut facts,
            );
            assert_eq!(
                media,
                Plan::send(Verdict::Fallback, "Thanks! We will get back to you.".into()),
                "{kind}"
            );
        }
        let empty = plan_reply(&shop(), &customer(), "text", None, &mut facts);
        assert_eq!(empty.verdict, Verdict::Fallback);
        assert_eq!(
            facts.asked_faq, 0,
            "only typed text is looked up in the FAQ"
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
            words: "Monday at 09:00".into(),
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
            plan_reply(&hours, &customer(), "text", Some("human"), &mut facts).verdict,
            Verdict::Escalated
        );
        let mut closed_but_no_hours = known(0, None);
        closed_but_no_hours.closed = facts.closed.clone().or(Some(Closed {
            words: "x".into(),
            opens_at: None,
        }));
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
        night.closed = Some(Closed {
            words: "Monday at 09:00".into(),
            opens_at: None,
        });
        assert_eq!(
            plan(&hours, &customer(), "text", "opening hours?", &mut night).verdict,
            Verdict::Faq
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
                handed_off in any::<bool>(), replies in 0i64..400, limit in 0i32..300,
                kind in kinds(), body in bodies(), faq_score in proptest::option::of(0.0f32..=1.0),
            ) {
                let settings = Settings { is_bot_enabled: enabled, enable_ai_responses: ai, max_messages_per_hour: limit, ..shop() };
                let conversation = Conversation { opted_out, handed_off, ..customer() };
                let mut facts = known(replies, faq_score.map(|s| ("An answer", s)));
                let plan = plan(&settings, &conversation, kind, &body, &mut facts);
                let confirms = matches!(plan.verdict, Verdict::OptOut | Verdict::OptIn);
                if let Some(reply) = &plan.reply {
                    prop_assert!(!reply.text().trim().is_empty(), "{plan:?}");
                    prop_assert!(confirms || !opted_out, "an opted-out customer got {plan:?}");
                    prop_assert!(confirms || enabled, "a switched-off bot answered: {plan:?}");
                    prop_assert!(confirms || !handed_off, "a handed-off conversation got {plan:?}");
                    prop_assert!(confirms || replies < i64::from(limit), "over the limit: {plan:?}");
                    prop_assert!(!matches!(kind, "reaction" | "system") || confirms, "{plan:?}");
                    prop_assert!(matches!(reply, Reply::Send(_)) || (ai && plan.verdict == Verdict::Llm), "{plan:?}");
                }
                if plan.verdict == Verdict::Faq {
                    prop_assert!(faq_score.is_some_and(|s| s >= settings.faq_confidence));
                }
            }
        }
    }
}
