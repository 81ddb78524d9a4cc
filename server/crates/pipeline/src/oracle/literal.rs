//! Literals as people write them in examples: JavaScript's (`[1, 'a', null]`, `{ a: 1 }`) and Python's, which
//! doc comments translated from Python keep (`(2.0, 2.2)`, `True`, `None`, `{'a': 1}`). A literal is read
//! into a [`Lit`] and printed back as JavaScript, so an example becomes code that runs. Nothing that is not a
//! literal is accepted (a variable, an operator, a call): an example whose input or output is an expression
//! is not a formal example, and is left to the model-extracted ones.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Undefined,
    Bool(bool),
    /// As written (`-1.5e3`, `Infinity`, `NaN`), so `1.0` prints as written and reads the same to a person.
    Number(String),
    Str(String),
    Array(Vec<Lit>),
    Object(Vec<(String, Lit)>),
}

impl Lit {
    /// The literal as JavaScript source.
    pub fn to_js(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Lit::Null => out.push_str("null"),
            Lit::Undefined => out.push_str("undefined"),
            Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Lit::Number(n) => out.push_str(n),
            Lit::Str(s) => out.push_str(&js_string(s)),
            Lit::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Lit::Object(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{ ");
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{}: ", js_string(key));
                    value.write(out);
                }
                out.push_str(" }");
            }
        }
    }
}

/// A JavaScript string literal in single quotes.
pub fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Reads literals from text.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

/// Nesting deeper than this is not an example anyone writes; it bounds the recursion on hostile input.
const MAX_DEPTH: usize = 32;

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, pos: 0, depth: 0 }
    }

    /// Where the reader stands (a byte offset into the text).
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    pub fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Consumes `c` (after whitespace) if it comes next.
    pub fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// One literal, after whitespace; `None` (and the position where it was) when there is none.
    pub fn literal(&mut self) -> Option<Lit> {
        self.skip_ws();
        let c = self.peek()?;
        match c {
            '\'' | '"' | '`' => self.string(c).map(Lit::Str),
            '[' => self.sequence('[', ']').map(Lit::Array),
            // A Python tuple is an array in the JavaScript translation (MultiPL-E's convention).
            '(' => self.sequence('(', ')').map(Lit::Array),
            '{' => self.object(),
            '-' | '+' | '.' | '0'..='9' => self.number(),
            _ => self.word(),
        }
    }

    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn sequence(&mut self, open: char, close: char) -> Option<Vec<Lit>> {
        self.nested(|r| {
            r.pos += open.len_utf8();
            let mut items = Vec::new();
            loop {
                if r.eat(close) {
                    return Some(items);
                }
                items.push(r.literal()?);
                if !r.eat(',') {
                    return r.eat(close).then_some(items);
                }
            }
        })
    }

    fn object(&mut self) -> Option<Lit> {
        self.nested(|r| {
            r.pos += 1;
            let mut fields = Vec::new();
            loop {
                if r.eat('}') {
                    return Some(Lit::Object(fields));
                }
                r.skip_ws();
                let key = match r.peek()? {
                    q @ ('\'' | '"') => r.string(q)?,
                    '0'..='9' => match r.number()? {
                        Lit::Number(n) => n,
                        _ => return None,
                    },
                    _ => r.identifier()?.to_owned(),
                };
                if !r.eat(':') {
                    return None;
                }
                fields.push((key, r.literal()?));
                if !r.eat(',') {
                    return r.eat('}').then_some(Lit::Object(fields));
                }
            }
        })
    }

    fn string(&mut self, quote: char) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Some(out);
                }
                // A template literal with a substitution is code, not a literal.
                '$' if quote == '`' && self.rest()[i..].starts_with("${") => break,
                '\n' if quote != '`' => break,
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' | 'x' => {
                            let digits = if e == 'x' { 2 } else { 4 };
                            let hex: String = (0..digits).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                            out.push(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)?);
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        self.pos = start;
        None
    }

    fn number(&mut self) -> Option<Lit> {
        let rest = self.rest();
        let mut end = 0;
        let bytes = rest.as_bytes();
        if matches!(bytes.first(), Some(b'-' | b'+')) {
            end += 1;
        }
        let after_sign = &rest[end..];
        for word in ["Infinity", "inf"] {
            if after_sign.starts_with(word) && !continues_word(&after_sign[word.len()..]) {
                let sign = if rest.starts_with('-') { "-" } else { "" };
                self.pos += end + word.len();
                return Some(Lit::Number(format!("{sign}Infinity")));
            }
        }
        let digits_start = end;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.' || bytes[end] == b'_') {
            end += 1;
        }
        if end < bytes.len() && matches!(bytes[end], b'e' | b'E') {
            let mut e = end + 1;
            if e < bytes.len() && matches!(bytes[e], b'-' | b'+') {
                e += 1;
            }
            if e < bytes.len() && bytes[e].is_ascii_digit() {
                while e < bytes.len() && bytes[e].is_ascii_digit() {
                    e += 1;
                }
                end = e;
            }
        }
        let text = rest[..end].replace('_', "");
        let digits = &text[digits_start.min(text.len())..];
        if digits.is_empty() || digits.matches('.').count() > 1 || !digits.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        if continues_word(&rest[end..]) {
            return None;
        }
        text.parse::<f64>().ok()?;
        self.pos += end;
        let text = text.strip_prefix('+').unwrap_or(&text).to_owned();
        Some(Lit::Number(text))
    }

    fn identifier(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(rest.len());
        if end == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.pos += end;
        Some(&rest[..end])
    }

    fn word(&mut self) -> Option<Lit> {
        let start = self.pos;
        let lit = match self.identifier()? {
            "null" | "None" => Lit::Null,
            "undefined" => Lit::Undefined,
            "true" | "True" => Lit::Bool(true),
            "false" | "False" => Lit::Bool(false),
            "NaN" | "nan" => Lit::Number("NaN".into()),
            _ => {
                self.pos = start;
                return None;
            }
        };
        // `None.x`, `true(`: not a literal.
        if self.rest().starts_with(['.', '(', '[']) {
            self.pos = start;
            return None;
        }
        Some(lit)
    }
}

fn continues_word(rest: &str) -> bool {
    rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
}

/// `text` whole as one literal (surrounding whitespace and one trailing `;` or `.` allowed).
pub fn parse_whole(text: &str) -> Option<Lit> {
    let mut reader = Reader::new(text);
    let lit = reader.literal()?;
    let rest = reader.rest().trim();
    let rest = rest.strip_suffix(';').or_else(|| rest.strip_suffix('.')).unwrap_or(rest).trim();
    rest.is_empty().then_some(lit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(text: &str) -> Option<String> {
        parse_whole(text).map(|l| l.to_js())
    }

    #[test]
    fn python_and_javascript_literals_print_as_javascript() {
        assert_eq!(js("(2.0, 2.2)").as_deref(), Some("[2.0, 2.2]"));
        assert_eq!(js("['a', \"b\", `c`]").as_deref(), Some("['a', 'b', 'c']"));
        assert_eq!(js("True").as_deref(), Some("true"));
        assert_eq!(js("None").as_deref(), Some("null"));
        assert_eq!(js("{'a': 1, b: [None, -3.5e2]}").as_deref(), Some("{ 'a': 1, 'b': [null, -3.5e2] }"));
        assert_eq!(js("[]").as_deref(), Some("[]"));
        assert_eq!(js("''").as_deref(), Some("''"));
        assert_eq!(js("'it\\'s'").as_deref(), Some("'it\\'s'"));
        assert_eq!(js("-Infinity").as_deref(), Some("-Infinity"));
        assert_eq!(js("+7").as_deref(), Some("7"));
        assert_eq!(js("[1, 2,]").as_deref(), Some("[1, 2]"));
        assert_eq!(js("'-$19.99'.").as_deref(), Some("'-$19.99'"));
    }

    #[test]
    fn expressions_are_not_literals() {
        for text in [
            "n - 1",
            "fib4(n-1)",
            "x",
            "[1, x]",
            "`a${b}`",
            "1 + 2",
            "'open",
            "1.2.3",
            "-",
            "None.value",
            "12px",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ] {
            assert_eq!(js(text), None, "{text}");
        }
    }

    #[test]
    fn a_reader_stops_after_its_literal() {
        let mut reader = Reader::new("'a', 3) -> 4");
        assert_eq!(reader.literal(), Some(Lit::Str("a".into())));
        assert!(reader.eat(','));
        assert_eq!(reader.literal(), Some(Lit::Number("3".into())));
        assert_eq!(reader.rest(), ") -> 4");
    }
}
