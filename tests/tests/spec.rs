//! The mocks' spec checks must catch bad bodies, or a passing end-to-end test proves nothing.
use alphadome_e2e::spec::{meta_send_message, openai_chat_completion_request};
use serde_json::json;

#[test]
fn metas_own_example_conforms_and_broken_sends_do_not() {
    let reply = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "254700000001",
                       "type": "text", "text": {"body": "hi", "preview_url": false}, "context": {"message_id": "wamid.x"}});
    assert_eq!(meta_send_message().violations(&reply), Vec::<String>::new());
    for broken in [
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "type": "text", "text": {"body": "no to"}}),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "1", "type": "txt", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "1", "type": "text", "text": {"body": "x", "colour": "red"}}),
        json!({"messaging_product": "whatsapp", "recipient_type": "everyone", "to": "1", "type": "text", "text": {"body": "x"}}),
    ] {
        assert!(
            !meta_send_message().violations(&broken).is_empty(),
            "{broken}"
        );
    }
}

#[test]
fn a_chat_completions_body_conforms_and_broken_ones_do_not() {
    let body = json!({"model": "gpt-4o-mini", "max_completion_tokens": 500, "temperature": 0.3,
                      "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]});
    assert_eq!(
        openai_chat_completion_request().violations(&body),
        Vec::<String>::new()
    );
    for broken in [
        json!({"model": "gpt-4o-mini"}),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": 5}),
    ] {
        assert!(
            !openai_chat_completion_request()
                .violations(&broken)
                .is_empty(),
            "{broken}"
        );
    }
}
