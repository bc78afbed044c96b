//! Getting back in: password reset links (single use, expiring, kept as hashes, throttled, the
//! same answer for unknown emails), the operator's link, and the tries left before a lockout.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    const PASSWORD: &str = "correct horse battery";
    const NEW_PASSWORD: &str = "violin strings at dawn";
    const EMAIL: &str = "gideon@shop-a.test";

    /// (outcome, token, email) of a "forgot password" request.
    fn forgot(email: &str, address: &str) -> (String, Option<String>, Option<String>) {
        Spi::connect_mut(|c| {
            let row = c
                .update(
                    "SELECT * FROM alphadome.console_request_password_reset($1, $2)",
                    None,
                    &[email.into(), address.into()],
                )
                .unwrap()
                .first();
            (
                row.get(1).unwrap().unwrap(),
                row.get(2).unwrap(),
                row.get(3).unwrap(),
            )
        })
    }

    fn reset(token: &str, password: &str) -> String {
        one::<String>(
            "SELECT alphadome.console_reset_password($1, $2)",
            &[token.into(), password.into()],
        )
        .unwrap()
    }

    fn works(token: &str) -> bool {
        one::<bool>(
            "SELECT alphadome.console_reset_link_works($1)",
            &[token.into()],
        )
        .unwrap()
    }

    fn login(email: &str, password: &str) -> (String, Option<String>) {
        Spi::connect_mut(|c| {
            let row = c
                .update(
                    "SELECT outcome, session_token FROM alphadome.console_login($1, $2, '10.0.0.9')",
                    None,
                    &[email.into(), password.into()],
                )
                .unwrap()
                .first();
            (row.get(1).unwrap().unwrap(), row.get(2).unwrap())
        })
    }

    fn session_works(token: &str) -> bool {
        one::<bool>(
            "SELECT EXISTS (SELECT FROM alphadome.console_session($1))",
            &[token.into()],
        )
        .unwrap()
    }

    fn owner() -> (String, String) {
        let (a, _) = two_tenants();
        let id = one::<String>(
            "SELECT alphadome.create_owner($1::uuid, $2, $3)::text",
            &[a.as_str().into(), EMAIL.into(), PASSWORD.into()],
        )
        .unwrap();
        (a, id)
    }

    #[pg_test]
    fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
        owner();
        let (_, first_session) = login(EMAIL, PASSWORD);
        let (_, second_session) = login(EMAIL, PASSWORD);
        let (first_session, second_session) = (first_session.unwrap(), second_session.unwrap());

        let (asked, token, to) = forgot("  Gideon@Shop-A.test ", "10.0.0.1");
        assert_eq!((asked.as_str(), to.as_deref()), ("sent", Some(EMAIL)));
        let token = token.unwrap();
        assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()));
        // Only the token's sha256 is kept: no column holds the token.
        assert_eq!(
            one::<String>(
                "SELECT format('%s hashed, %s in clear', count(*) FILTER (WHERE token_sha256 = sha256(convert_to($1, 'UTF8'))),
                               count(*) FILTER (WHERE r::text LIKE '%' || $1 || '%'))
                   FROM alphadome.console_password_resets r",
                &[token.as_str().into()],
            )
            .as_deref(),
            Some("1 hashed, 0 in clear")
        );
        assert!(works(&token));
        // A refused password leaves the link working.
        assert_eq!(
            outcome(
                "SELECT alphadome.console_reset_password($1[1], 'password123')",
                &[token.as_str()]
            ),
            "22023"
        );
        assert!(works(&token));
        assert_eq!(reset(&token, NEW_PASSWORD), "changed");
        assert!(
            !session_works(&first_session) && !session_works(&second_session),
            "every session ended"
        );
        assert_eq!(login(EMAIL, PASSWORD).0, "wrong");
        assert_eq!(login(EMAIL, NEW_PASSWORD).0, "ok");
        // Once only.
        assert!(!works(&token));
        assert_eq!(reset(&token, "another fine password"), "invalid");
        assert_eq!(login(EMAIL, NEW_PASSWORD).0, "ok");
    }

    #[pg_test]
    fn a_link_expires_and_a_newer_one_ends_the_older() {
        owner();
        let older = forgot(EMAIL, "10.0.0.1").1.unwrap();
        let newer = forgot(EMAIL, "10.0.0.1").1.unwrap();
        assert!(!works(&older) && works(&newer));
        assert_eq!(reset(&older, NEW_PASSWORD), "invalid");
        // 30 minutes later.
        run(
            "UPDATE alphadome.console_password_resets
                SET requested_at = requested_at - interval '31 minutes', expires_at = expires_at - interval '31 minutes'",
            &[],
        );
        assert!(!works(&newer));
        assert_eq!(reset(&newer, NEW_PASSWORD), "invalid");
        assert_eq!(login(EMAIL, PASSWORD).0, "ok", "the password is unchanged");
        assert_eq!(reset("", NEW_PASSWORD), "invalid");
        assert_eq!(reset(&"0".repeat(64), NEW_PASSWORD), "invalid");
    }

    #[pg_test]
    fn requests_are_throttled_by_email_and_address_whether_or_not_the_account_exists() {
        owner();
        // An unknown email: nothing to send, nothing stored but the request.
        let unknown = forgot("nobody@shop-a.test", "10.0.0.2");
        assert_eq!(unknown, ("unknown".into(), None, None));
        // Three an hour for one email, known or not.
        for address in ["10.0.0.3", "10.0.0.4"] {
            assert_eq!(forgot(EMAIL, address).0, "sent");
            assert_eq!(forgot("nobody@shop-a.test", address).0, "unknown");
        }
        assert_eq!(forgot(EMAIL, "10.0.0.5").0, "sent");
        assert_eq!(forgot(EMAIL, "10.0.0.6"), ("throttled".into(), None, None));
        assert_eq!(forgot("nobody@shop-a.test", "10.0.0.6").0, "throttled");
        // Ten an hour from one address, whatever the emails.
        for i in 0..10 {
            assert_ne!(
                forgot(&format!("guess{i}@shop-a.test"), "10.0.0.7").0,
                "throttled"
            );
        }
        assert_eq!(forgot("guess10@shop-a.test", "10.0.0.7").0, "throttled");
        // An hour later the email may ask again.
        run(
            "UPDATE alphadome.console_password_resets SET requested_at = requested_at - interval '61 minutes'",
            &[],
        );
        assert_eq!(forgot(EMAIL, "10.0.0.6").0, "sent");
    }

    #[pg_test]
    fn the_operator_sends_an_owner_a_link_and_nobody_else_can() {
        let (_, id) = owner();
        let operator = one::<String>(
            "SELECT alphadome.create_operator('ops@alphadome.test', $1)::text",
            &[PASSWORD.into()],
        )
        .unwrap();
        act_as("alphadome_admin", Context::None);
        let (token, to) = Spi::connect_mut(|c| {
            let row = c
                .update(
                    "SELECT * FROM alphadome.operator_password_reset($1::uuid)",
                    None,
                    &[id.as_str().into()],
                )
                .unwrap()
                .first();
            (
                row.get::<String>(1).unwrap().unwrap(),
                row.get::<String>(2).unwrap().unwrap(),
            )
        });
        assert_eq!(to, EMAIL);
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.operator_password_reset($1[1]::uuid)",
                &[operator.as_str()]
            ),
            "22023",
            "an operator's own login is not reset from the console"
        );
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.operator_password_reset($1[1]::uuid)",
                &["00000000-0000-0000-0000-000000000000"]
            ),
            "P0002"
        );
        assert_eq!(
            outcome("SELECT * FROM alphadome.console_password_resets", &[]),
            "42501",
            "links are read only through the functions"
        );
        act_as("alphadome_tenant", Context::None);
        assert_eq!(
            outcome(
                "SELECT * FROM alphadome.operator_password_reset($1[1]::uuid)",
                &[id.as_str()]
            ),
            "42501"
        );
        act_as_superuser();
        assert_eq!(reset(&token, NEW_PASSWORD), "changed");
        assert_eq!(login(EMAIL, NEW_PASSWORD).0, "ok");
    }

    #[pg_test]
    fn the_tries_left_count_down_to_the_lockout() {
        owner();
        let left = || {
            one::<i32>(
                "SELECT alphadome.console_login_tries_left($1, '10.0.0.9')",
                &[EMAIL.into()],
            )
            .unwrap()
        };
        assert_eq!(left(), 5);
        for expected in [4, 3, 2, 1, 0] {
            assert_eq!(login(EMAIL, "not the password").0, "wrong");
            assert_eq!(left(), expected);
        }
        assert_eq!(login(EMAIL, PASSWORD).0, "throttled");
    }
}
