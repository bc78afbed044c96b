//! Credential encryption under the master key file (docs/design.md section 4).
//!
//! The master key never enters SQL: Rust reads it from the file named by
//! `alphadome.master_key_file` and derives, per (tenant, credential name), a pgcrypto password
//! and a tag key. Stored form (the bytea column):
//!
//! ```text
//! "ADK1" | key id length (1 byte) | key id | HMAC-SHA256 tag (32 bytes) | pgp_sym_encrypt output
//! ```
//! The tag binds the ciphertext to its tenant and credential name: copied into another row it
//! fails verification before pgcrypto is even asked. The key id lets rotation find old rows.
use crate::errors::raise as fail;
use crate::guc;
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode::*;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const MAGIC: &[u8; 4] = b"ADK1";
const TAG_LEN: usize = 32;
const MAX_KEY_ID_LEN: usize = 32;
/// The credential names a ciphertext can be bound to: the encrypted columns of bot_tenants and
/// of mpesa_accounts (0.3.0).
pub const CREDENTIAL_NAMES: [&str; 7] = [
    "whatsapp_access_token",
    "ai_api_key",
    "app_secret",
    "mpesa_consumer_key",
    "mpesa_consumer_secret",
    "mpesa_passkey",
    "mpesa_callback_token",
];

/// One master key: its id and 32 secret bytes. Debug never shows the bytes.
pub struct MasterKey {
    pub id: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyFileError {
    /// Line number (1-based) that is not `<key_id>:<64 hex>`. The line itself is never shown.
    BadLine(usize),
    DuplicateId(usize),
    NoKey,
}

impl std::fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyFileError::BadLine(n) => write!(
                f,
                "line {n} of the file named by alphadome.master_key_file is not '<key_id>:<64 hex characters>' (key_id: 1 to {MAX_KEY_ID_LEN} of A-Z a-z 0-9 _ . -)"
            ),
            KeyFileError::DuplicateId(n) => write!(
                f,
                "line {n} of the file named by alphadome.master_key_file repeats an earlier key id"
            ),
            KeyFileError::NoKey => write!(f, "the file named by alphadome.master_key_file holds no key"),
        }
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Parses the key file: blank lines and `#` comments are skipped, the last key is current.
pub fn parse_key_file(text: &str) -> Result<Vec<MasterKey>, KeyFileError> {
    let mut keys: Vec<MasterKey> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = index + 1;
        let (id, hex_key) = line.split_once(':').ok_or(KeyFileError::BadLine(n))?;
        let (id, hex_key) = (id.trim(), hex_key.trim());
        if !valid_key_id(id) || hex_key.len() != 64 {
            return Err(KeyFileError::BadLine(n));
        }
        let mut secret = [0u8; 32];
        hex::decode_to_slice(hex_key, &mut secret).map_err(|_| KeyFileError::BadLine(n))?;
        if keys.iter().any(|k| k.id == id) {
            return Err(KeyFileError::DuplicateId(n));
        }
        keys.push(MasterKey {
            id: id.to_string(),
            secret,
        });
    }
    if keys.is_empty() {
        return Err(KeyFileError::NoKey);
    }
    Ok(keys)
}

/// Per-credential secrets derived from a master key, so that nothing derived for one
/// (tenant, credential) opens another's ciphertext.
pub struct DerivedKeys {
    pub password: String,
    tag_key: [u8; 32],
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

pub fn derive(key: &MasterKey, tenant: &[u8; 16], credential: &str) -> DerivedKeys {
    let password = hmac(
        &key.secret,
        &[b"alphadome/v1/pgp-password", tenant, credential.as_bytes()],
    );
    let tag_key = hmac(
        &key.secret,
        &[b"alphadome/v1/tag", tenant, credential.as_bytes()],
    );
    DerivedKeys {
        password: hex::encode(password),
        tag_key,
    }
}

pub fn seal(key_id: &str, derived: &DerivedKeys, pgp: &[u8]) -> Vec<u8> {
    let tag = hmac(&derived.tag_key, &[pgp]);
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + key_id.len() + TAG_LEN + pgp.len());
    out.extend_from_slice(MAGIC);
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&tag);
    out.extend_from_slice(pgp);
    out
}

/// The parts of a stored ciphertext; None when it is not in AlphaDome's format.
pub struct Envelope<'a> {
    pub key_id: &'a str,
    tag: &'a [u8],
    pub pgp: &'a [u8],
}

pub fn open_envelope(stored: &[u8]) -> Option<Envelope<'_>> {
    let rest = stored.strip_prefix(MAGIC.as_slice())?;
    let (&id_len, rest) = rest.split_first()?;
    let id_len = id_len as usize;
    if rest.len() < id_len + TAG_LEN {
        return None;
    }
    let key_id = std::str::from_utf8(&rest[..id_len])
        .ok()
        .filter(|id| valid_key_id(id))?;
    let tag = &rest[id_len..id_len + TAG_LEN];
    Some(Envelope {
        key_id,
        tag,
        pgp: &rest[id_len + TAG_LEN..],
    })
}

/// Constant-time check that the envelope was sealed for this tenant and credential.
pub fn tag_matches(derived: &DerivedKeys, envelope: &Envelope<'_>) -> bool {
    let mut mac =
        HmacSha256::new_from_slice(&derived.tag_key).expect("HMAC takes keys of any length");
    mac.update(envelope.pgp);
    mac.update(&[0]);
    mac.verify_slice(envelope.tag).is_ok()
}

// ---- inside the server ---------------------------------------------------------------------

fn load_keys() -> Vec<MasterKey> {
    let Some(path) = guc::master_key_file() else {
        fail(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "alphadome.master_key_file is not set: a superuser must set it (postgresql.conf or ALTER SYSTEM) to the master key file",
        )
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                ERRCODE_UNDEFINED_FILE
            } else {
                ERRCODE_IO_ERROR
            };
            fail(code, format!("could not read the master key file \"{path}\" named by alphadome.master_key_file: {}", e.kind()))
        }
    };
    parse_key_file(&text).unwrap_or_else(|e| fail(ERRCODE_CONFIG_FILE_ERROR, e.to_string()))
}

fn check_credential_name(credential: &str) {
    if !CREDENTIAL_NAMES.contains(&credential) {
        fail(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "unknown credential \"{credential}\": expected one of {}",
                CREDENTIAL_NAMES.join(", ")
            ),
        );
    }
}

/// Encrypts under the current (last) master key, bound to (tenant_id, credential).
#[pg_extern(volatile, strict, parallel_unsafe)]
fn _encrypt_credential(tenant_id: pgrx::Uuid, credential: &str, plaintext: &str) -> Vec<u8> {
    check_credential_name(credential);
    if plaintext.is_empty() {
        fail(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("{credential} must not be empty"),
        );
    }
    let keys = load_keys();
    let key = keys
        .last()
        .expect("parse_key_file returns at least one key");
    let derived = derive(key, tenant_id.as_bytes(), credential);
    let pgp: Vec<u8> = Spi::get_one_with_args(
        "SELECT alphadome._pgp_encrypt($1, $2)",
        &[plaintext.into(), derived.password.as_str().into()],
    )
    .unwrap_or_else(|e| {
        fail(
            ERRCODE_INTERNAL_ERROR,
            format!("pgp_sym_encrypt failed: {e}"),
        )
    })
    .unwrap_or_else(|| fail(ERRCODE_INTERNAL_ERROR, "pgp_sym_encrypt returned NULL"));
    seal(&key.id, &derived, &pgp)
}

/// Decrypts a stored credential of (tenant_id, credential) with whichever key sealed it.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn _decrypt_credential(tenant_id: pgrx::Uuid, credential: &str, ciphertext: &[u8]) -> String {
    check_credential_name(credential);
    let Some(envelope) = open_envelope(ciphertext) else {
        fail(
            ERRCODE_DATA_CORRUPTED,
            format!("{credential} of tenant {tenant_id} is not an AlphaDome ciphertext"),
        )
    };
    let keys = load_keys();
    let Some(key) = keys.iter().find(|k| k.id == envelope.key_id) else {
        fail(
            ERRCODE_CONFIG_FILE_ERROR,
            format!(
                "{credential} of tenant {tenant_id} is encrypted under master key \"{}\", which the file named by alphadome.master_key_file no longer holds",
                envelope.key_id
            ),
        )
    };
    let derived = derive(key, tenant_id.as_bytes(), credential);
    if !tag_matches(&derived, &envelope) {
        fail(
            ERRCODE_DATA_CORRUPTED,
            format!("{credential} of tenant {tenant_id} does not decrypt: the ciphertext was not sealed for this tenant and credential"),
        );
    }
    pgp_decrypt(envelope.pgp, &derived.password)
        .unwrap_or_else(|e| {
            fail(
                ERRCODE_INTERNAL_ERROR,
                format!("pgp_sym_decrypt failed: {e}"),
            )
        })
        .unwrap_or_else(|| fail(ERRCODE_INTERNAL_ERROR, "pgp_sym_decrypt returned NULL"))
}

thread_local! {
    // A backend is one thread: the decryption's statement is prepared once per session. Parsed
    // and planned at every call, with the SQL function's body, it cost a claim about 45,000
    // instructions more (make count).
    static PGP_DECRYPT: std::cell::OnceCell<pgrx::spi::OwnedPreparedStatement> =
        const { std::cell::OnceCell::new() };
}

/// pgcrypto's decryption of `pgp` with `password`, by the session's kept statement.
fn pgp_decrypt(pgp: &[u8], password: &str) -> pgrx::spi::SpiResult<Option<String>> {
    use pgrx::pg_sys::{BYTEAOID, TEXTOID};
    Spi::connect(|client| {
        PGP_DECRYPT.with(|cell| {
            if cell.get().is_none() {
                let prepared = client
                    .prepare(
                        "SELECT alphadome._pgp_decrypt($1, $2)",
                        &[BYTEAOID.into(), TEXTOID.into()],
                    )?
                    .keep();
                let _ = cell.set(prepared);
            }
            let statement = cell.get().expect("prepared above");
            client
                .select(statement, Some(1), &[pgp.into(), password.into()])?
                .first()
                .get_one::<String>()
        })
    })
}

/// The id of the master key a stored credential is sealed under (NULL when not ours).
#[pg_extern(immutable, strict, parallel_safe)]
fn _credential_key_id(ciphertext: &[u8]) -> Option<String> {
    open_envelope(ciphertext).map(|e| e.key_id.to_string())
}

/// The id of the current master key: the last line of the key file.
#[pg_extern(volatile, parallel_unsafe)]
fn _current_master_key_id() -> String {
    load_keys()
        .pop()
        .expect("parse_key_file returns at least one key")
        .id
}

/// What is wrong with the master key file, or NULL when it is set, private to the server's
/// OS user (no group or other permission bits) and holds valid keys. For security_check.
#[pg_extern(volatile, parallel_unsafe)]
fn _master_key_file_problem() -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = guc::master_key_file() else {
        return Some("alphadome.master_key_file is not set".into());
    };
    let metadata = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot stat \"{path}\": {}", e.kind())),
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Some(format!(
            "\"{path}\" has mode {mode:04o}: other OS users may read it; chmod 600 it"
        ));
    }
    match std::fs::read_to_string(&path) {
        Err(e) => Some(format!("cannot read \"{path}\": {}", e.kind())),
        Ok(text) => parse_key_file(&text).err().map(|e| e.to_string()),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "k2:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn parses_keys_in_order_last_is_current() {
        let keys = parse_key_file(&format!("# comment\n{K1}\n\n  {K2}  \n")).unwrap();
        assert_eq!(
            keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ["k1", "k2"]
        );
    }

    #[test]
    fn bad_key_files_name_the_line_not_the_content() {
        assert_eq!(parse_key_file("").unwrap_err(), KeyFileError::NoKey);
        assert_eq!(
            parse_key_file("# only a comment\n").unwrap_err(),
            KeyFileError::NoKey
        );
        assert_eq!(
            parse_key_file(&format!("{K1}\nnot-a-key\n")).unwrap_err(),
            KeyFileError::BadLine(2)
        );
        assert_eq!(
            parse_key_file("k1:abcd").unwrap_err(),
            KeyFileError::BadLine(1)
        );
        let bad_hex = format!("k1:{}", "zz".repeat(32));
        assert_eq!(
            parse_key_file(&bad_hex).unwrap_err(),
            KeyFileError::BadLine(1)
        );
        let bad_id = K1.replacen("k1", "k 1", 1);
        assert_eq!(
            parse_key_file(&bad_id).unwrap_err(),
            KeyFileError::BadLine(1)
        );
        assert_eq!(
            parse_key_file(&format!("{K1}\n{K1}")).unwrap_err(),
            KeyFileError::DuplicateId(2)
        );
        let message = KeyFileError::BadLine(2).to_string();
        assert!(message.contains("alphadome.master_key_file") && !message.contains("0001"));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let keys = parse_key_file(K1).unwrap();
        let shown = format!("{:?}", keys[0]);
        assert!(shown.contains("k1") && !shown.contains("0, 1, 2") && !shown.contains("000102"));
    }

    #[test]
    fn envelope_round_trip_and_binding() {
        let keys = parse_key_file(K1).unwrap();
        let tenant_a = [1u8; 16];
        let tenant_b = [2u8; 16];
        let derived_a = derive(&keys[0], &tenant_a, "ai_api_key");
        let stored = seal("k1", &derived_a, b"pgp-bytes");
        let envelope = open_envelope(&stored).unwrap();
        assert_eq!(envelope.key_id, "k1");
        assert_eq!(envelope.pgp, b"pgp-bytes");
        assert!(tag_matches(&derived_a, &envelope));
        assert!(!tag_matches(
            &derive(&keys[0], &tenant_b, "ai_api_key"),
            &envelope
        ));
        assert!(!tag_matches(
            &derive(&keys[0], &tenant_a, "app_secret"),
            &envelope
        ));
        assert_ne!(
            derived_a.password,
            derive(&keys[0], &tenant_b, "ai_api_key").password
        );
    }

    #[test]
    fn foreign_or_truncated_bytes_are_not_envelopes() {
        assert!(open_envelope(b"").is_none());
        assert!(open_envelope(b"\xc3\x0d\x04\x09").is_none());
        assert!(open_envelope(b"ADK1\x02k1short").is_none());
        let mut tampered = seal(
            "k1",
            &derive(&parse_key_file(K1).unwrap()[0], &[1; 16], "app_secret"),
            b"x",
        );
        tampered[4] = 200;
        assert!(open_envelope(&tampered).is_none());
    }
}
