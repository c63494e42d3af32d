//! [`AuditKey`]: the key that signs exported audit heads (HMAC-SHA256), so that a head kept
//! outside the database cannot be forged to match a shortened chain by anyone without the key.
//!
//! The key is the bytes of `LOCO_AUDIT_KEY`, taken as they are: any non-empty string (use a long
//! random one, e.g. `openssl rand -base64 32`). An external verifier computes the same HMAC with
//! the same string: `printf '%s%s' "$seq" "$hash" | openssl dgst -sha256 -hmac "$LOCO_AUDIT_KEY"`.
//!
//! ```
//! use loco_core::audit::AuditHead;
//! use loco_core::AuditKey;
//!
//! let key = AuditKey::new("a long random secret").unwrap();
//! let mut head = AuditHead { seq: 3, hash: "ab".repeat(32), hmac: None, at: None };
//! head.hmac = Some(key.sign(&head));
//! assert!(key.verifies(&head));
//! assert!(!AuditKey::new("another secret").unwrap().verifies(&head));
//! ```

use hmac::{Hmac, Mac};
use loco_types::audit::AuditHead;
use loco_types::{Error, Result};
use sha2::Sha256;

/// The environment variable holding the audit key.
pub const AUDIT_KEY_ENV: &str = "LOCO_AUDIT_KEY";

/// A key for signing and checking exported audit heads.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    /// A key of these bytes; an empty key is a validation error.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(Error::invalid(AUDIT_KEY_ENV, "must not be empty"));
        }
        Ok(Self(key.to_vec()))
    }

    /// The key of `LOCO_AUDIT_KEY`; `None` when it is unset or empty.
    pub fn from_env() -> Option<Self> {
        let value = std::env::var_os(AUDIT_KEY_ENV)?;
        Self::new(value.into_encoded_bytes()).ok()
    }

    /// The HMAC of `head` ([`AuditHead::signed_message`]), lowercase hex.
    pub fn sign(&self, head: &AuditHead) -> String {
        hex(&self.mac(head).finalize().into_bytes())
    }

    /// Whether `head` carries this key's HMAC of it (compared in constant time).
    pub fn verifies(&self, head: &AuditHead) -> bool {
        let Some(given) = head.hmac.as_deref().and_then(unhex) else { return false };
        self.mac(head).verify_slice(&given).is_ok()
    }

    fn mac(&self, head: &AuditHead) -> Hmac<Sha256> {
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(head.signed_message().as_bytes());
        mac
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> AuditHead {
        AuditHead { seq: 120, hash: "0123456789abcdef".repeat(4), hmac: None, at: None }
    }

    #[test]
    fn the_hmac_is_what_openssl_computes_from_seq_then_hash() {
        // printf '%s%s' 120 "$hash" | openssl dgst -sha256 -hmac Jefe
        let key = AuditKey::new("Jefe").unwrap();
        assert_eq!(key.sign(&head()), "457a37b53ba3c3e5f6ff3b5d3fdc741f0a3687effd74ae1762955653a556504e");
    }

    #[test]
    fn only_the_same_key_and_head_verify() {
        let key = AuditKey::new("a long random secret").unwrap();
        let mut signed = head();
        signed.hmac = Some(key.sign(&signed));
        assert!(key.verifies(&signed));
        assert!(!AuditKey::new("a long random secreT").unwrap().verifies(&signed));
        let mut moved = signed.clone();
        moved.seq = 119;
        assert!(!key.verifies(&moved), "the seq is covered");
        let mut unsigned = signed.clone();
        unsigned.hmac = None;
        assert!(!key.verifies(&unsigned));
        unsigned.hmac = Some("zz".repeat(32));
        assert!(!key.verifies(&unsigned));
        assert_eq!(AuditKey::new("").unwrap_err().code(), "validation_error");
        assert_eq!(format!("{key:?}"), "AuditKey(***)");
    }
}
