//! Form-style query strings as the REST fakes read them: `a=1&a=2&b=x+y%2Fz`, every pair kept in
//! order, percent-decoded, `+` as a space.

/// The pairs of a raw query string, in order (repeated names kept).
pub(crate) fn parse_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Percent-decodes `text` (`+` as a space; a `%` not followed by two hex digits is kept).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_repeated_names_and_decode() {
        let pairs = parse_pairs(Some("status=live&status=failed&text=a+b%2Fc&flag&bad=%zz"));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("status", "live"), ("status", "failed"), ("text", "a b/c"), ("flag", ""), ("bad", "%zz")]);
        assert!(parse_pairs(None).is_empty());
    }
}
