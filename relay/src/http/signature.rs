//! X-Hub-Signature-256: HMAC-SHA256 of the raw request bytes under the Meta app secret,
//! compared in constant time. The header is parsed before any of the body is read (a request
//! without a well-formed one is refused at once), and the HMAC is computed as the body arrives.
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The digest a well-formed header names: `sha256=` and 64 hex digits (either case); None for
/// anything else.
pub fn parse(header: Option<&str>) -> Option<[u8; 32]> {
    let hex_digest = header?.trim().strip_prefix("sha256=")?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).ok()?;
    Some(digest)
}

/// The HMAC of a body under way, fed a piece at a time.
#[derive(Clone)]
pub struct Verifier(Hmac<Sha256>);

impl Verifier {
    pub fn new(secret: &[u8]) -> Verifier {
        Verifier(Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"))
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    /// True when the body fed in hashes to `expected` (constant time).
    pub fn matches(self, expected: &[u8; 32]) -> bool {
        self.0.verify_slice(expected).is_ok()
    }
}

/// True when `header` is `sha256=<hex>` of `body` under `secret`.
pub fn valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(expected) = parse(header) else {
        return false;
    };
    let mut verifier = Verifier::new(secret);
    verifier.update(body);
    verifier.matches(&expected)
}

/// The header value Meta would send for `body` (used by `simulate` and the tests).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut verifier = Verifier::new(secret);
    verifier.update(body);
    format!("sha256={}", hex::encode(verifier.0.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The real Meta delivery captured by pywa (fixture 30, byte-exact) and its signature.
    const BODY: &[u8] =
        include_bytes!("../../../tests/fixtures/whatsapp/30_sigvec_pywa_raw_body.json");
    const SECRET: &[u8] = b"1222e786b144d0e85b9f365372d93676";
    const HEADER: &str = "sha256=54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441";

    #[test]
    fn metas_real_signature_verifies() {
        assert_eq!(BODY.len(), 511);
        assert!(valid(SECRET, BODY, Some(HEADER)));
        assert_eq!(sign(SECRET, BODY), HEADER);
    }

    #[test]
    fn one_changed_byte_or_a_bad_header_fails() {
        let mut changed = BODY.to_vec();
        changed[100] ^= 1;
        assert!(!valid(SECRET, &changed, Some(HEADER)));
        assert!(!valid(b"another secret", BODY, Some(HEADER)));
        assert!(!valid(SECRET, BODY, None));
        assert!(!valid(SECRET, BODY, Some("")));
        assert!(!valid(
            SECRET,
            BODY,
            Some(&HEADER.replace("sha256=", "sha1="))
        ));
        assert!(!valid(SECRET, BODY, Some("sha256=zz")));
        assert!(!valid(SECRET, BODY, Some(&HEADER[..HEADER.len() - 2])));
    }

    mod properties {
        use super::super::{sign, valid};
        use proptest::prelude::*;

        proptest! {
            /// Any body signed with a secret verifies with that secret, and with no other;
            /// any one changed byte fails; no header a stranger writes passes.
            #[test]
            fn only_the_exact_bytes_under_the_exact_secret_verify(
                secret in prop::collection::vec(any::<u8>(), 1..64),
                other in prop::collection::vec(any::<u8>(), 1..64),
                body in prop::collection::vec(any::<u8>(), 1..512),
                at in any::<prop::sample::Index>(), flip in 1u8..=255,
                header in "\\PC{0,80}",
            ) {
                let signed = sign(&secret, &body);
                prop_assert!(valid(&secret, &body, Some(&signed)));
                prop_assert!(valid(&secret, &body, Some(&signed.to_uppercase().replace("SHA256=", "sha256="))), "hex in either case");
                prop_assume!(other != secret);
                prop_assert!(!valid(&other, &body, Some(&signed)));
                let mut changed = body.clone();
                changed[at.index(body.len())] ^= flip;
                prop_assert!(!valid(&secret, &changed, Some(&signed)));
                prop_assert!(header == signed || !valid(&secret, &body, Some(&header)));
            }
        }
    }
}
