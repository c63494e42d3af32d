//! Reads a `sha256sum`-format checksum file: `<64 hex>  <name>` (text mode) or
//! `<64 hex> *<name>` (binary mode) per line; blank lines and `#` comments are ignored.

use loco_types::plan::is_sha256_hex;

use super::archive::normalize;

/// One `<digest> <name>` line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listed {
    /// 1-based.
    pub line: u32,
    /// Lower-case hexadecimal.
    pub digest: String,
    /// Without a leading `./`.
    pub name: String,
}

/// The lines of a checksum file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ChecksumFile {
    pub listed: Vec<Listed>,
    /// Numbers (1-based) of the lines that are neither blank, a comment nor a checksum.
    pub malformed: Vec<u32>,
}

/// Parses `text`; what is malformed is counted line by line, the rest still read.
pub(super) fn parse(text: &str) -> ChecksumFile {
    let mut file = ChecksumFile::default();
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match checksum_line(line) {
            Some((digest, name)) => {
                file.listed.push(Listed { line: number, digest: digest.to_ascii_lowercase(), name: name.to_owned() });
            }
            None => file.malformed.push(number),
        }
    }
    file
}

fn checksum_line(line: &str) -> Option<(&str, &str)> {
    let digest = line.get(..64).filter(|d| is_sha256_hex(d))?;
    let rest = &line[64..];
    let name = rest.strip_prefix("  ").or_else(|| rest.strip_prefix(" *"))?;
    let name = normalize(name);
    (!name.is_empty()).then_some((digest, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn text_and_binary_lines_comments_and_blanks() {
        let text = format!("# release 1.4\n\n{A}  app/main.py\r\n{} *./bin/app\n", A.to_uppercase());
        let file = parse(&text);
        assert_eq!(file.malformed, Vec::<u32>::new());
        assert_eq!(
            file.listed,
            [
                Listed { line: 3, digest: A.to_owned(), name: "app/main.py".to_owned() },
                Listed { line: 4, digest: A.to_owned(), name: "bin/app".to_owned() },
            ]
        );
    }

    #[test]
    fn malformed_lines_are_named_and_the_rest_still_read() {
        let text = format!("{A} one-space\nSHA256 (app) = {A}\n{}  short\n{A}  \n{A}  ok.txt\n", &A[..60]);
        let file = parse(&text);
        assert_eq!(file.malformed, [1, 2, 3, 4]);
        assert_eq!(file.listed.len(), 1);
        assert_eq!(file.listed[0].line, 5);
    }

    #[test]
    fn non_ascii_text_does_not_split_a_character() {
        let file = parse("é".repeat(40).as_str());
        assert_eq!(file.malformed, [1]);
    }
}
