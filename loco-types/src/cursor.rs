//! The opaque, URL-safe list cursor: a keyset position (the insertion sequence of the last row
//! on a page) that every store encodes and decodes the same way.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Encodes a keyset position (the internal insertion sequence of the last row on a page) as an
/// opaque, URL-safe cursor.
pub fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

/// Decodes a cursor made by [`encode_cursor`], or returns a validation error on field `cursor`.
pub fn decode_cursor(cursor: &str) -> Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix("v1:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|seq| *seq > 0)
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor returned by a previous page"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for seq in [1, 42, i64::MAX] {
            let c = encode_cursor(seq);
            assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{c}");
            assert_eq!(decode_cursor(&c), Ok(seq));
        }
    }

    #[test]
    fn forged_cursors_are_validation_errors() {
        for bad in ["", "!!", "djE6", &URL_SAFE_NO_PAD.encode("v1:-3"), &URL_SAFE_NO_PAD.encode("v2:3"), "' OR 1=1 --"]
        {
            let err = decode_cursor(bad).unwrap_err();
            assert_eq!(err.details()[0].field, "cursor", "{bad}");
        }
    }
}
