//! Reading a manifest's YAML into JSON, remembering where each value was written.
//!
//! Only the part of YAML a configuration file needs is accepted: one document of mappings,
//! sequences and scalars, read with the YAML 1.2 core schema (`true`, `null`, `3`, `2.5` are typed;
//! quoted scalars are strings). Anchors and aliases, tags, keys that are not strings and keys given
//! twice are errors, each at its line. So a manifest means one thing, and a small file cannot expand
//! into a large tree.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted (mappings and sequences inside each other).
pub const MAX_DEPTH: usize = 32;

/// Where something was written: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl Position {
    fn of(span: Span) -> Self {
        let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1);
        let column = u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX);
        Self { line, column }
    }
}

/// A YAML document read as JSON, with the position of every value by its path (`stages[1].rollout`;
/// the empty path is the document).
#[derive(Debug)]
pub struct Located {
    /// The document's value.
    pub value: Value,
    /// Where each value starts, by path.
    pub positions: HashMap<String, Position>,
}

impl Located {
    /// The position of `path`, or of its nearest ancestor that was written (a missing field is
    /// reported where its parent is), or of the document.
    pub fn position(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(position) = self.positions.get(path) {
                return Some(*position);
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return self.positions.get("").copied(),
            }
        }
    }
}

/// A problem that stopped the YAML from being read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Path of the value being read when it happened (`""` at the top).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub position: Position,
}

/// Reads `text` as one YAML document.
pub fn read(text: &str) -> Result<Located, SyntaxError> {
    let mut reader = Reader { parser: Parser::new_from_str(text), positions: HashMap::new(), last: None };
    reader.document()
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    positions: HashMap<String, Position>,
    last: Option<Position>,
}

impl<'a> Reader<'a> {
    fn next(&mut self, path: &str) -> Result<(Event<'a>, Position), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let position = Position::of(span);
                self.last = Some(position);
                Ok((event, position))
            }
            Some(Err(e)) => {
                let marker = e.marker();
                let position = Position {
                    line: u32::try_from(marker.line()).unwrap_or(u32::MAX).max(1),
                    column: u32::try_from(marker.col() + 1).unwrap_or(u32::MAX),
                };
                Err(SyntaxError {
                    path: path.to_owned(),
                    message: format!("is not valid YAML: {}", e.info()),
                    position,
                })
            }
            None => Err(self.error(path, "ends too early")),
        }
    }

    fn error(&self, path: &str, message: &str) -> SyntaxError {
        SyntaxError {
            path: path.to_owned(),
            message: message.to_owned(),
            position: self.last.unwrap_or(Position { line: 1, column: 1 }),
        }
    }

    fn document(&mut self) -> Result<Located, SyntaxError> {
        let (event, _) = self.next("")?;
        if !matches!(event, Event::StreamStart) {
            return Err(self.error("", "must be a YAML document"));
        }
        let (event, position) = self.next("")?;
        let value = match event {
            Event::DocumentStart(_) => {
                let (event, position) = self.next("")?;
                let value = self.node(event, position, "", 0)?;
                let (end, _) = self.next("")?;
                if !matches!(end, Event::DocumentEnd) {
                    return Err(self.error("", "must hold one YAML value"));
                }
                value
            }
            Event::StreamEnd => return Err(SyntaxError { path: String::new(), message: "is empty".into(), position }),
            _ => return Err(self.error("", "must be a YAML document")),
        };
        let (event, _) = self.next("")?;
        match event {
            Event::StreamEnd => Ok(Located { value, positions: std::mem::take(&mut self.positions) }),
            _ => Err(self.error("", "must hold one YAML document (found a second '---')")),
        }
    }

    fn node(&mut self, event: Event<'a>, position: Position, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(path, "nests deeper than 32 levels"));
        }
        self.positions.insert(path.to_owned(), position);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                Self::plain(anchor, tag.is_some()).map_err(|m| self.error(path, m))?;
                Ok(scalar(&text, style))
            }
            Event::SequenceStart(anchor, tag) => {
                Self::plain(anchor, tag.is_some()).map_err(|m| self.error(path, m))?;
                let mut items = Vec::new();
                loop {
                    let item_path = format!("{path}[{}]", items.len());
                    let (event, position) = self.next(&item_path)?;
                    if matches!(event, Event::SequenceEnd) {
                        return Ok(Value::Array(items));
                    }
                    items.push(self.node(event, position, &item_path, depth + 1)?);
                }
            }
            Event::MappingStart(anchor, tag) => {
                Self::plain(anchor, tag.is_some()).map_err(|m| self.error(path, m))?;
                let mut map = Map::new();
                loop {
                    let (event, position) = self.next(path)?;
                    let key = match event {
                        Event::MappingEnd => return Ok(Value::Object(map)),
                        Event::Scalar(text, _, anchor, tag) => {
                            Self::plain(anchor, tag.is_some()).map_err(|m| self.error(path, m))?;
                            text.into_owned()
                        }
                        _ => {
                            return Err(SyntaxError {
                                path: path.to_owned(),
                                message: "has a key that is not a string".into(),
                                position,
                            });
                        }
                    };
                    let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    if map.contains_key(&key) {
                        return Err(SyntaxError { path: child, message: "is given twice".into(), position });
                    }
                    let (event, value_position) = self.next(&child)?;
                    let value = self.node(event, value_position, &child, depth + 1)?;
                    // A key's line is where the key is written (a block value starts below it).
                    self.positions.insert(child, position);
                    map.insert(key, value);
                }
            }
            Event::Alias(_) => Err(self.error(path, "uses an alias (*name); anchors and aliases are not supported")),
            _ => Err(self.error(path, "is not a YAML value")),
        }
    }

    fn plain(anchor: usize, tagged: bool) -> Result<(), &'static str> {
        if anchor != 0 {
            return Err("defines an anchor (&name); anchors and aliases are not supported");
        }
        if tagged {
            return Err("has a tag (!name); tags are not supported");
        }
        Ok(())
    }
}

/// A scalar under the YAML 1.2 core schema: quoted and block scalars are strings.
fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(number) = integer(text) {
        return Value::Number(number);
    }
    let is_float = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if is_float && let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

fn integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(octal) = digits.strip_prefix("0o") {
        (8, octal)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude).ok()?;
        Some(Number::from(-value))
    } else {
        Some(Number::from(magnitude))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_typed_by_the_core_schema_and_located() {
        let located = read("a: 1\nb:\n  - x\n  - 'true'\n  - true\n  - ~\n  - 2.5\nc: \"3\"\n").unwrap();
        assert_eq!(located.value, json!({"a": 1, "b": ["x", "true", true, null, 2.5], "c": "3"}));
        assert_eq!(located.position("a"), Some(Position { line: 1, column: 1 }));
        assert_eq!(located.position("b[1]"), Some(Position { line: 4, column: 5 }));
        assert_eq!(located.position("b[1].missing"), Some(Position { line: 4, column: 5 }));
        assert_eq!(located.position("c"), Some(Position { line: 8, column: 1 }));
    }

    #[test]
    fn aliases_tags_duplicates_and_second_documents_are_errors_at_their_line() {
        let error = |text: &str| {
            let e = read(text).unwrap_err();
            (e.path, e.position.line)
        };
        assert_eq!(error("a: &x 1\nb: *x\n"), ("a".to_owned(), 1));
        assert_eq!(error("a: 1\nb: !!str 2\n"), ("b".to_owned(), 2));
        assert_eq!(error("a: 1\nb: 2\na: 3\n"), ("a".to_owned(), 3));
        assert_eq!(error("a: 1\n---\nb: 2\n").1, 2);
        assert!(error("a: [1, 2\nb: 3\n").0.starts_with("a["), "an unclosed list is reported inside it");
        assert_eq!(read("").unwrap_err().message, "is empty");
        let deep = "a: ".to_owned() + &"[".repeat(40) + &"]".repeat(40);
        assert!(read(&deep).unwrap_err().message.contains("deeper"));
    }
}
