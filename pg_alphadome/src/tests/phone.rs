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

    #[pg_test]
    fn normalize_phone_uses_the_given_country_code() {
        let normalized = one::<String>("SELECT alphadome.normalize_phone('0650555123', '1')", &[]);
        assert_eq!(normalized.as_deref(), Some("1650555123"));
        assert_eq!(
            one::<String>("SELECT alphadome.normalize_phone(NULL)", &[]),
            None
        );
    }
}
