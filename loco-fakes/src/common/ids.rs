//! Random identifiers as the fakes mint them: lower-case ULIDs and short suffixes cut from them.

/// A fresh ULID in lower case (`01hf…`), as Render writes ids and request ids.
pub(crate) fn lower_ulid() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

/// `len` random lower-case characters (the tail of a fresh ULID, reversed), for generated
/// hostnames and URL suffixes.
pub(crate) fn random_suffix(len: usize) -> String {
    lower_ulid().chars().rev().take(len).collect()
}
