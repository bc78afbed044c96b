//! Phone numbers to the digits-only international form WhatsApp uses (E.164 without '+').
use crate::errors::raise;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;

/// E.164 allows at most 15 digits; below 8 nothing real is left.
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;
/// Bare digit strings this long or shorter, not starting with the country code, are national.
const MAX_NATIONAL_DIGITS: usize = 10;
/// A national number shorter than this is a typo or an extension, not a subscriber number.
const MIN_NATIONAL_DIGITS: usize = 7;

/// Digits after the country code of the numbers of countries whose plan the code knows (the
/// shops' countries and their neighbours, and the usual foreign ones): (code, name, fewest,
/// most). Any other country is held to E.164's 15 digits in all. Country codes are prefix-free,
/// so a number starts with at most one of them.
const NATIONAL_LENGTHS: &[(&str, &str, usize, usize)] = &[
    ("254", "Kenya", 9, 9),
    ("255", "Tanzania", 9, 9),
    ("256", "Uganda", 9, 9),
    ("250", "Rwanda", 9, 9),
    ("257", "Burundi", 8, 8),
    ("251", "Ethiopia", 9, 9),
    ("252", "Somalia", 7, 9),
    ("211", "South Sudan", 9, 9),
    ("27", "South Africa", 9, 9),
    ("234", "Nigeria", 8, 10),
    ("233", "Ghana", 9, 9),
    ("1", "the United States or Canada", 10, 10),
    ("44", "the United Kingdom", 9, 10),
    ("91", "India", 10, 10),
    ("971", "the United Arab Emirates", 8, 9),
];

#[derive(Debug, PartialEq, Eq)]
pub enum PhoneError {
    BadCountryCode,
    NotAPhoneNumber,
    WrongLength(usize),
    TooShortNational(usize),
    /// (country code, country, digits after the code, fewest, most)
    WrongLengthForCountry(&'static str, &'static str, usize, usize, usize),
}

impl std::fmt::Display for PhoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhoneError::BadCountryCode => {
                write!(f, "default_country_code must be 1 to 3 digits, without '+'")
            }
            PhoneError::NotAPhoneNumber => write!(
                f,
                "not a phone number: only digits, one leading '+', spaces, '-', '.', '/' and parentheses are allowed"
            ),
            PhoneError::WrongLength(n) => write!(
                f,
                "not a phone number: {n} digits in international form, expected {MIN_DIGITS} to {MAX_DIGITS}"
            ),
            PhoneError::TooShortNational(n) => write!(
                f,
                "not a phone number: {n} digits without a country code, expected at least {MIN_NATIONAL_DIGITS}"
            ),
            PhoneError::WrongLengthForCountry(cc, country, n, fewest, most) => {
                let expected = if fewest == most {
                    format!("{fewest}")
                } else {
                    format!("{fewest} to {most}")
                };
                write!(
                    f,
                    "not a phone number of {country} (+{cc}): {n} digits after the country code, expected {expected}; a number of another country needs its country code (+1 415 555 0100)"
                )
            }
        }
    }
}

/// '0702245555', '+254 702-245-555', '00254702245555', '254702245555' → '254702245555'.
pub fn normalize(phone: &str, default_country_code: &str) -> Result<String, PhoneError> {
    let cc = default_country_code.trim().trim_start_matches('+');
    if cc.is_empty()
        || cc.len() > 3
        || !cc.bytes().all(|b| b.is_ascii_digit())
        || cc.starts_with('0')
    {
        return Err(PhoneError::BadCountryCode);
    }
    let trimmed = phone.trim();
    let (explicit_international, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' => {}
            _ => return Err(PhoneError::NotAPhoneNumber),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::NotAPhoneNumber);
    }
    let national = |n: &str| {
        if n.len() < MIN_NATIONAL_DIGITS {
            Err(PhoneError::TooShortNational(n.len()))
        } else {
            Ok(format!("{cc}{n}"))
        }
    };
    let international = if explicit_international {
        digits
    } else if let Some(after_exit_code) = digits.strip_prefix("00") {
        after_exit_code.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        national(rest)?
    } else if digits.starts_with(cc) || digits.len() > MAX_NATIONAL_DIGITS {
        digits
    } else {
        national(&digits)?
    };
    if international.starts_with('0') {
        return Err(PhoneError::NotAPhoneNumber);
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&international.len()) {
        return Err(PhoneError::WrongLength(international.len()));
    }
    if let Some(&(code, country, fewest, most)) = NATIONAL_LENGTHS
        .iter()
        .find(|(code, ..)| international.starts_with(code))
    {
        let n = international.len() - code.len();
        if !(fewest..=most).contains(&n) {
            return Err(PhoneError::WrongLengthForCountry(
                code, country, n, fewest, most,
            ));
        }
    }
    Ok(international)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn normalize_phone(phone: &str, default_country_code: default!(&str, "'254'")) -> String {
    match normalize(phone, default_country_code) {
        Ok(normalized) => normalized,
        Err(e) => raise(ERRCODE_INVALID_PARAMETER_VALUE, e.to_string()),
    }
}

/// The key a customer's conversation is found by: a phone number in the digits-only
/// international form (local numbers read in `default_country_code`), anything else (a
/// business-scoped user id) as given, trimmed. Never fails: callers look a conversation up.
#[pg_extern(immutable, parallel_safe, strict)]
fn _customer_key(customer: &str, default_country_code: &str) -> String {
    normalize(customer, default_country_code).unwrap_or_else(|_| customer.trim().to_string())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn kenyan_forms_agree() {
        for input in [
            "0702245555",
            "+254 702-245-555",
            "254702245555",
            "00254702245555",
            "702245555",
            "(0702) 245 555",
        ] {
            assert_eq!(
                normalize(input, "254").as_deref(),
                Ok("254702245555"),
                "{input}"
            );
        }
    }

    #[test]
    fn other_country_codes() {
        assert_eq!(
            normalize("+1 (650) 555-1234", "254").as_deref(),
            Ok("16505551234")
        );
        assert_eq!(normalize("06505551234", "1").as_deref(), Ok("16505551234"));
        assert_eq!(
            normalize("+44 20 7946 0958", "254").as_deref(),
            Ok("442079460958")
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(normalize("abc", "254"), Err(PhoneError::NotAPhoneNumber));
        assert_eq!(normalize("", "254"), Err(PhoneError::NotAPhoneNumber));
        assert_eq!(normalize("+", "254"), Err(PhoneError::NotAPhoneNumber));
        assert_eq!(
            normalize("0702 245 555 x12", "254"),
            Err(PhoneError::NotAPhoneNumber)
        );
        assert_eq!(
            normalize("++254702245555", "254"),
            Err(PhoneError::NotAPhoneNumber)
        );
        assert_eq!(
            normalize("+0702245555", "254"),
            Err(PhoneError::NotAPhoneNumber)
        );
        assert_eq!(
            normalize("12345", "254"),
            Err(PhoneError::TooShortNational(5))
        );
        assert_eq!(
            normalize("012345", "254"),
            Err(PhoneError::TooShortNational(5))
        );
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(
            normalize("+1234567", "254"),
            Err(PhoneError::WrongLength(7))
        );
        assert_eq!(
            normalize("+1234567890123456", "254"),
            Err(PhoneError::WrongLength(16))
        );
    }

    /// A foreign number written without its country code is read as the tenant's country's
    /// and then has a length no number of that country has: refused, not stored.
    #[test]
    fn a_number_too_long_for_its_country_is_refused() {
        assert_eq!(
            normalize("(415) 555-0100", "254"),
            Err(PhoneError::WrongLengthForCountry("254", "Kenya", 10, 9, 9))
        );
        let said = normalize("(415) 555-0100", "254").unwrap_err().to_string();
        assert!(
            said.starts_with("not a phone number of Kenya (+254): 10 digits"),
            "{said}"
        );
        assert_eq!(
            normalize("+1 650 555 123", "254"),
            Err(PhoneError::WrongLengthForCountry(
                "1",
                "the United States or Canada",
                9,
                10,
                10
            ))
        );
        assert_eq!(
            normalize("(415) 555-0100", "1").as_deref(),
            Ok("14155550100")
        );
        assert_eq!(
            normalize("+255 712 345 678", "254").as_deref(),
            Ok("255712345678")
        );
        // A country the table does not know: E.164's bounds only.
        assert_eq!(
            normalize("+49 30 1234 5678 90", "254").as_deref(),
            Ok("49301234567890")
        );
    }

    #[test]
    fn bad_country_code() {
        for cc in ["", "abc", "2544", "0"] {
            assert_eq!(
                normalize("0702245555", cc),
                Err(PhoneError::BadCountryCode),
                "{cc}"
            );
        }
        assert_eq!(
            normalize("0702245555", "+254").as_deref(),
            Ok("254702245555")
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// An international number, however it is written, normalises to its digits, and a
            /// normalised number normalises to itself. (Of a country code beginning with 3, 5,
            /// 6, 7 or 8, none of which NATIONAL_LENGTHS holds: E.164's bounds alone apply.)
            #[test]
            fn written_forms_agree_and_normalising_is_idempotent(
                digits in "[35-8][0-9]{7,14}", seps in prop::collection::vec(prop::sample::select(vec!["", " ", "-", ".", "/"]), 16),
            ) {
                let written: String = digits.chars().zip(seps.iter().cycle()).map(|(d, s)| format!("{s}{d}")).collect();
                prop_assert_eq!(normalize(&format!("+{written}"), "254"), Ok(digits.clone()));
                prop_assert_eq!(normalize(&format!("00{digits}"), "254"), Ok(digits.clone()));
                if let Ok(once) = normalize(&digits, "254") {
                    prop_assert_eq!(normalize(&once, "254"), Ok(once.clone()));
                }
            }

            /// Any text at all: a number of 8 to 15 digits without a leading 0, or an error,
            /// never a panic.
            #[test]
            fn anything_else_is_an_error_or_a_valid_number(text in "\\PC{0,30}", cc in "[0-9]{0,4}") {
                if let Ok(n) = normalize(&text, &cc) {
                    prop_assert!((8..=15).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'), "{n}");
                }
            }
        }
    }
}
