//! Just enough GraphQL for the Railway fake: parsing executable documents (operations, variable
//! definitions, fields with arguments and nested selections), checking argument and variable
//! types against the schema subset in [`super::schema`], and projecting a resolved value onto the
//! selection set the client asked for — refusing a selection on a scalar, a missing selection on
//! an object, and unknown fields, as a real GraphQL server's validation would.
//!
//! Not supported (refused with an error naming them): fragments, aliases, directives.

use serde_json::Value;

/// `query`, `mutation` or `subscription`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Query,
    Mutation,
    Subscription,
}

/// An argument value as written in the document.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Var(String),
    Scalar(Value),
    Enum(String),
    List(Vec<Literal>),
    Object(Vec<(String, Literal)>),
}

/// One selected field.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) args: Vec<(String, Literal)>,
    pub(super) selection: Option<Vec<Field>>,
    /// 1-based line and column, for error locations.
    pub(super) at: (usize, usize),
}

/// One operation of a document.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Operation {
    pub(super) kind: Kind,
    pub(super) name: Option<String>,
    /// Variable name (without `$`) and its declared type (`String!`, `[DeploymentStatus!]`).
    pub(super) variables: Vec<(String, String)>,
    pub(super) fields: Vec<Field>,
}

/// A GraphQL error: its message and, when known, where in the document it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GqlError {
    pub(super) message: String,
    pub(super) at: Option<(usize, usize)>,
}

impl GqlError {
    pub(super) fn new(message: impl Into<String>, at: Option<(usize, usize)>) -> Self {
        Self { message: message.into(), at }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Punct(char),
    Spread,
    Name(String),
    Str(String),
    Number(String),
}

/// A token and where it starts (1-based line and column).
type Located = (Token, (usize, usize));

struct Parser {
    tokens: Vec<Located>,
    next: usize,
}

fn syntax(message: &str, at: (usize, usize)) -> GqlError {
    GqlError::new(format!("Syntax Error: {message}"), Some(at))
}

fn lex(text: &str) -> Result<Vec<Located>, GqlError> {
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    let mut tokens = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let at = (line, i - line_start + 1);
        match c {
            '\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
            }
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '.' if chars.get(i + 1..i + 3) == Some(&['.', '.']) => {
                tokens.push((Token::Spread, at));
                i += 3;
            }
            '{' | '}' | '(' | ')' | ':' | '$' | '!' | '[' | ']' | '=' | '@' | '|' | '&' => {
                tokens.push((Token::Punct(c), at));
                i += 1;
            }
            '"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err(syntax("Unterminated string.", at)),
                        Some('"') => break,
                        Some('\\') => {
                            let escaped = match chars.get(i + 1) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some(&other @ ('"' | '\\' | '/')) => other,
                                _ => return Err(syntax("Invalid character escape sequence.", at)),
                            };
                            value.push(escaped);
                            i += 2;
                        }
                        Some(&other) => {
                            value.push(other);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push((Token::Str(value), at));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    i += 1;
                }
                tokens.push((Token::Number(chars[start..i].iter().collect()), at));
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                tokens.push((Token::Name(chars[start..i].iter().collect()), at));
            }
            other => return Err(syntax(&format!("Unexpected character: \"{other}\"."), at)),
        }
    }
    Ok(tokens)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(t, _)| t)
    }

    fn at(&self) -> (usize, usize) {
        self.tokens.get(self.next).or(self.tokens.last()).map_or((1, 1), |(_, at)| *at)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|(t, _)| t.clone());
        self.next += 1;
        token
    }

    fn expect(&mut self, c: char) -> Result<(), GqlError> {
        let at = self.at();
        match self.bump() {
            Some(Token::Punct(p)) if p == c => Ok(()),
            Some(other) => Err(syntax(&format!("Expected \"{c}\", found {other:?}."), at)),
            None => Err(syntax(&format!("Expected \"{c}\", found <EOF>."), at)),
        }
    }

    fn name(&mut self) -> Result<String, GqlError> {
        let at = self.at();
        match self.bump() {
            Some(Token::Name(name)) => Ok(name),
            other => Err(syntax(&format!("Expected Name, found {other:?}."), at)),
        }
    }

    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Token::Punct(c))
    }

    fn document(&mut self) -> Result<Vec<Operation>, GqlError> {
        let mut operations = Vec::new();
        while self.peek().is_some() {
            operations.push(self.operation()?);
        }
        if operations.is_empty() {
            return Err(syntax("Unexpected <EOF>.", (1, 1)));
        }
        Ok(operations)
    }

    fn operation(&mut self) -> Result<Operation, GqlError> {
        if self.is('{') {
            let fields = self.selection()?;
            return Ok(Operation { kind: Kind::Query, name: None, variables: Vec::new(), fields });
        }
        let at = self.at();
        let kind = match self.name()?.as_str() {
            "query" => Kind::Query,
            "mutation" => Kind::Mutation,
            "subscription" => Kind::Subscription,
            "fragment" => return Err(GqlError::new("the Railway fake does not support fragments", Some(at))),
            other => return Err(syntax(&format!("Unexpected Name \"{other}\"."), at)),
        };
        let name = matches!(self.peek(), Some(Token::Name(_))).then(|| self.name()).transpose()?;
        let mut variables = Vec::new();
        if self.is('(') {
            self.expect('(')?;
            while !self.is(')') {
                self.expect('$')?;
                let variable = self.name()?;
                self.expect(':')?;
                variables.push((variable, self.type_ref()?));
                if self.is('=') {
                    return Err(GqlError::new("the Railway fake does not support default values", Some(self.at())));
                }
            }
            self.expect(')')?;
        }
        self.no_directive()?;
        Ok(Operation { kind, name, variables, fields: self.selection()? })
    }

    fn type_ref(&mut self) -> Result<String, GqlError> {
        let mut ty = if self.is('[') {
            self.expect('[')?;
            let inner = self.type_ref()?;
            self.expect(']')?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.is('!') {
            self.expect('!')?;
            ty.push('!');
        }
        Ok(ty)
    }

    fn no_directive(&self) -> Result<(), GqlError> {
        match self.peek() {
            Some(Token::Punct('@')) => {
                Err(GqlError::new("the Railway fake does not support directives", Some(self.at())))
            }
            Some(Token::Spread) => Err(GqlError::new("the Railway fake does not support fragments", Some(self.at()))),
            _ => Ok(()),
        }
    }

    fn selection(&mut self) -> Result<Vec<Field>, GqlError> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.is('}') {
            self.no_directive()?;
            let at = self.at();
            let name = self.name()?;
            if self.is(':') {
                return Err(GqlError::new("the Railway fake does not support aliases", Some(at)));
            }
            let mut args = Vec::new();
            if self.is('(') {
                self.expect('(')?;
                while !self.is(')') {
                    let arg = self.name()?;
                    self.expect(':')?;
                    args.push((arg, self.value()?));
                }
                self.expect(')')?;
            }
            self.no_directive()?;
            let selection = if self.is('{') { Some(self.selection()?) } else { None };
            fields.push(Field { name, args, selection, at });
        }
        self.expect('}')?;
        if fields.is_empty() {
            return Err(syntax("Expected Name, found \"}\".", self.at()));
        }
        Ok(fields)
    }

    fn value(&mut self) -> Result<Literal, GqlError> {
        let at = self.at();
        match self.bump() {
            Some(Token::Punct('$')) => Ok(Literal::Var(self.name()?)),
            Some(Token::Str(s)) => Ok(Literal::Scalar(Value::String(s))),
            Some(Token::Number(n)) => n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .map(Literal::Scalar)
                .map_err(|_| syntax(&format!("Invalid number \"{n}\"."), at)),
            Some(Token::Name(name)) => Ok(match name.as_str() {
                "true" => Literal::Scalar(Value::Bool(true)),
                "false" => Literal::Scalar(Value::Bool(false)),
                "null" => Literal::Scalar(Value::Null),
                _ => Literal::Enum(name),
            }),
            Some(Token::Punct('[')) => {
                let mut items = Vec::new();
                while !self.is(']') {
                    items.push(self.value()?);
                }
                self.expect(']')?;
                Ok(Literal::List(items))
            }
            Some(Token::Punct('{')) => {
                let mut fields = Vec::new();
                while !self.is('}') {
                    let name = self.name()?;
                    self.expect(':')?;
                    fields.push((name, self.value()?));
                }
                self.expect('}')?;
                Ok(Literal::Object(fields))
            }
            other => Err(syntax(&format!("Unexpected {other:?}."), at)),
        }
    }
}

/// Parses an executable document.
pub(super) fn parse(document: &str) -> Result<Vec<Operation>, GqlError> {
    Parser { tokens: lex(document)?, next: 0 }.document()
}

/// The operation to run: the one named `name`, or the only one when no name is given.
pub(super) fn pick(operations: Vec<Operation>, name: Option<&str>) -> Result<Operation, GqlError> {
    match name {
        Some(name) => operations
            .into_iter()
            .find(|o| o.name.as_deref() == Some(name))
            .ok_or_else(|| GqlError::new(format!("Unknown operation named \"{name}\"."), None)),
        None if operations.len() == 1 => Ok(operations.into_iter().next().unwrap_or_else(|| unreachable!())),
        None => Err(GqlError::new("Must provide operation name if query contains multiple operations.", None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_with_variables_nested_selections_and_literals() {
        let doc = "# a comment\nquery DeploymentList($input: DeploymentListInput!, $first: Int) {\n  deployments(input: $input, first: $first) { edges { node { id status meta } } }\n}";
        let op = pick(parse(doc).unwrap(), Some("DeploymentList")).unwrap();
        assert_eq!(op.kind, Kind::Query);
        assert_eq!(op.variables, [("input".into(), "DeploymentListInput!".into()), ("first".into(), "Int".into())]);
        assert_eq!(op.fields[0].name, "deployments");
        assert_eq!(op.fields[0].at, (3, 3));
        let inline = parse(
            r#"mutation { serviceInstanceUpdate(serviceId: "s", input: {numReplicas: 2, source: {image: "a:b"}}) }"#,
        )
        .unwrap();
        assert_eq!(inline[0].fields[0].args.len(), 2);
        assert!(parse("{ a: me { id } }").unwrap_err().message.contains("aliases"));
        assert!(parse("{ me { ...F } }").unwrap_err().message.contains("fragments"));
        assert!(parse("query { me { id }").unwrap_err().message.starts_with("Syntax Error"));
        assert!(
            pick(parse("query A { me { id } }").unwrap(), Some("B")).unwrap_err().message.contains("Unknown operation")
        );
    }
}
