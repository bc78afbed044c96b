use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    #[pg_test]
    fn normalize_phone_accepts_the_three_kenyan_forms() {
        for input in ["0702245555", "+254 702-245-555", "254702245555"] {
            let normalized = one::<String>("SELECT alphadome.normalize_phone($1)", &[input.into()]);
            assert_eq!(normalized.as_deref(), Some("254702245555"), "{input}");
        }
    }

    #[pg_test]
    fn normalize_phone_refuses_garbage_with_22023() {
        assert_eq!(
            outcome("SELECT alphadome.normalize_phone($1[1])", &["abc"]),
            "22023"
        );
        assert_eq!(
            outcome("SELECT alphadome.normalize_phone($1[1])", &[""]),
            "22023"
        );
        assert_eq!(
            outcome(
                "SELECT alphadome.normalize_phone($1[1], $1[2])",
                &["0702245555", "x"]
            ),
            "22023"
        );
    }

    /// "(415) 555-0100" for a Kenyan tenant was stored as 2544155550100 (13 digits, no Kenyan
    /// number has them): refused with 22023 and a reason, at onboarding too.
    #[pg_test]
    fn a_foreign_number_without_its_country_code_is_refused() {
        let said = one::<String>(
            "SELECT alphadome_test.error_message('SELECT alphadome.normalize_phone(''(415) 555-0100'')')",
            &[],
        )
        .unwrap();
        assert!(
            said.starts_with("22023 not a phone number of Kenya (+254): 10 digits"),
            "{said}"
        );
        run("SELECT pg_advisory_xact_lock(20261129)", &[]);
        let onboarding = outcome(
            "SELECT alphadome.create_tenant('us-number', 'US Number', $1[1], '100000000000072', 'EAAtest-token-us')",
            &["(415) 555-0100"],
        );
        assert_eq!(onboarding, "22023");
    }

    #[pg_test]
    fn normalize_phone_uses_the_given_country_code() {
        let normalized = one::<String>("SELECT alphadome.normalize_phone('06505551234', '1')", &[]);
        assert_eq!(normalized.as_deref(), Some("16505551234"));
        assert_eq!(
            one::<String>("SELECT alphadome.normalize_phone(NULL)", &[]),
            None
        );
    }
}
