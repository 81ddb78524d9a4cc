//! Formal examples, read without a model: a doc comment's `>>> f(x)` line and the line after it (a blank
//! one: nothing came back, `null`), and `f(x) -> y`, `f(x) === y`, "`f(x)` returns `y`", "f(x) throws a
//! RangeError" anywhere in a line (a code span's backticks are only delimiters). The call's arguments and
//! the expected value must be literals (`literal.rs`): `fib4(n) -> fib4(n-1) + ...` states a rule, not an
//! example, and is left alone.

use super::literal::{Lit, Reader, parse_whole};
use super::{Example, Expect};

/// Words that introduce what a call gives back, longest first (the first that matches is taken).
const GIVES: &[&str] = &[
    "should evaluate to",
    "should return",
    "must return",
    "will return",
    "evaluates to",
    "should give",
    "should be",
    "returns",
    "return",
    "yields",
    "equals",
    "gives",
    "===",
    "==",
    "->",
    "=>",
    "→",
    "➞",
    "is",
    "=",
];
/// Words that say a call throws.
const THROWS: &[&str] = &["should throw", "must throw", "will throw", "throws", "raises", "throw"];

/// Names that are not the code under test: a line that calls them states no example of it.
const NOT_OURS: &[&str] = &[
    "if",
    "for",
    "while",
    "switch",
    "catch",
    "function",
    "return",
    "typeof",
    "new",
    "await",
    "Math",
    "console",
    "JSON",
    "Number",
    "String",
    "Array",
    "Object",
    "Boolean",
    "parseInt",
    "parseFloat",
    "require",
    "import",
    "assert",
    "expect",
    "test",
    "it",
    "describe",
    "print",
    "len",
    "range",
    "abs",
    "round",
    "sum",
    "max",
    "min",
];

/// The examples stated in `lines` (line number, text without comment markers; a blank line is `""`), from
/// `origin` (`src/a.js`, or a name such as `the description`). `names`: the functions an example may call
/// (the module's), or any function but a language one when `None`.
pub fn examples(lines: &[(u32, String)], origin: &str, names: Option<&[String]>) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (number, text) = (&lines[i].0, lines[i].1.trim());
        if let Some(call) = text.strip_prefix(">>>") {
            // A doctest: the call, then its output up to a blank line or the next `>>>`.
            let mut output: Vec<&str> = Vec::new();
            let mut j = i + 1;
            while j < lines.len() && lines[j].0 == lines[j - 1].0 + 1 {
                let line = lines[j].1.trim();
                if line.is_empty() || line.starts_with(">>>") {
                    break;
                }
                output.push(line);
                j += 1;
            }
            let quote = std::iter::once(text).chain(output.iter().copied()).collect::<Vec<_>>().join("\n");
            if let Some((callee, call)) = whole_call(call.trim(), names)
                && let Some(expect) = doctest_output(&output.join(" "))
            {
                push(&mut out, Example { callee, call, expect, quote, origin: at(origin, *number), module: None });
            }
            i = j;
            continue;
        }
        for example in in_line(text, names) {
            push(&mut out, Example { origin: at(origin, *number), ..example });
        }
        i += 1;
    }
    out
}

fn at(origin: &str, line: u32) -> String {
    if origin.contains('/') || origin.contains('.') {
        format!("{origin}:{line}")
    } else {
        format!("{origin}, line {line}")
    }
}

/// Keeps the first of examples that say the same thing twice.
fn push(out: &mut Vec<Example>, example: Example) {
    if !out.iter().any(|e| e.call == example.call && e.expect == example.expect) {
        out.push(example);
    }
}

/// An example a model read from the user's text: `call` must be one call with literal arguments, `result` a
/// literal or `throws [Name]`.
pub fn drafted(call: &str, result: &str) -> Option<(String, String, Expect)> {
    let (callee, call) = whole_call(call.trim().trim_matches('`'), None)?;
    let result = result.trim().trim_matches('`').trim();
    let expect = match result.strip_prefix("throws") {
        Some(rest) => Expect::Throws(rest.split_whitespace().next().and_then(error_name)),
        None => expect_of(parse_whole(result)?),
    };
    Some((callee, call, expect))
}

/// What a doctest's output lines expect: a literal, nothing (`None` printed nothing), or an exception.
fn doctest_output(output: &str) -> Option<Expect> {
    let output = output.trim();
    if output.is_empty() {
        return Some(Expect::Nullish);
    }
    if let Some(lit) = parse_whole(output) {
        return Some(expect_of(lit));
    }
    if output.starts_with("Traceback") {
        let name = output.split_whitespace().rev().find_map(error_name);
        return Some(Expect::Throws(name));
    }
    None
}

fn expect_of(lit: Lit) -> Expect {
    match lit {
        Lit::Null | Lit::Undefined => Expect::Nullish,
        lit => Expect::Equal(lit.to_js()),
    }
}

/// `RangeError` in `RangeError:` or `RangeError.`; `None` for a word that names no error type.
fn error_name(word: &str) -> Option<String> {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    (word.ends_with("Error") || word.ends_with("Exception")).then(|| word.to_owned())
}

/// `text` is one call of an allowed function with literal arguments: `(callee, the call as JavaScript)`.
fn whole_call(text: &str, names: Option<&[String]>) -> Option<(String, String)> {
    let mut reader = Reader::new(text);
    let (callee, call) = call_at(&mut reader, names)?;
    let rest = reader.rest().trim().trim_end_matches(';').trim();
    rest.is_empty().then_some((callee, call))
}

/// A call `name(literal, ...)` where `reader` stands.
pub(super) fn call_at(reader: &mut Reader<'_>, names: Option<&[String]>) -> Option<(String, String)> {
    reader.skip_ws();
    let rest = reader.rest();
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))?;
    let callee = &rest[..end];
    if end == 0 || callee.starts_with(|c: char| c.is_ascii_digit()) || !allowed(callee, names) {
        return None;
    }
    let mut args = Reader::new(&rest[end..]);
    if !args.rest().starts_with('(') {
        return None;
    }
    args.eat('(');
    let mut values = Vec::new();
    if !args.eat(')') {
        loop {
            values.push(args.literal()?.to_js());
            if args.eat(')') {
                break;
            }
            if !args.eat(',') {
                return None;
            }
        }
    }
    let consumed = end + args.pos();
    *reader = Reader::new(&rest[consumed..]);
    Some((callee.to_owned(), format!("{callee}({})", values.join(", "))))
}

fn allowed(callee: &str, names: Option<&[String]>) -> bool {
    match names {
        Some(names) => names.iter().any(|n| n == callee),
        None => !NOT_OURS.contains(&callee),
    }
}

/// The examples within one line of prose or code: each call of an allowed function with literal arguments,
/// followed by what it gives or that it throws.
fn in_line(line: &str, names: Option<&[String]>) -> Vec<Example> {
    let mut out = Vec::new();
    let mut from = 0;
    while from < line.len() {
        let Some(offset) = line[from..].find(|c: char| c.is_alphabetic() || c == '_' || c == '$') else { break };
        let start = from + offset;
        let word_end = line[start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .map_or(line.len(), |e| start + e);
        // A method (`x.f(`), a constructor (`new F(`) or a word inside another is not a call of ours.
        let before = line[..start].trim_end();
        let method = line[..start].ends_with('.') || before.ends_with("new");
        if !method && let Some(example) = example_at(&line[start..], names) {
            let (example, used) = example;
            out.push(example);
            from = start + used.max(1);
            continue;
        }
        from = word_end;
    }
    out
}

/// An example starting at the beginning of `text`, and how many bytes it took.
fn example_at(text: &str, names: Option<&[String]>) -> Option<(Example, usize)> {
    let mut reader = Reader::new(text);
    let (callee, call) = call_at(&mut reader, names)?;
    let after_call = text.len() - reader.rest().len();
    let rest = reader.rest().trim_start().trim_start_matches('`').trim_start();
    let lower = rest.to_lowercase();
    if let Some(word) = THROWS.iter().find(|w| starts_word(&lower, w)) {
        let word_end = text.len() - rest.len() + word.len();
        let tail = &text[word_end..];
        let article = tail.trim_start();
        let article = article.strip_prefix("an ").or_else(|| article.strip_prefix("a ")).unwrap_or(article);
        let named = article.trim_start_matches('`');
        let word_len = named.find(|c: char| !c.is_alphanumeric()).unwrap_or(named.len());
        let name = error_name(&named[..word_len]);
        // The quote runs to the error's name when there is one, else to the verb.
        let end = if name.is_some() { text.len() - named.len() + word_len } else { word_end };
        let quote = text[..end].to_owned();
        let example =
            Example { callee, call, expect: Expect::Throws(name), quote, origin: String::new(), module: None };
        return Some((example, after_call));
    }
    let word = GIVES.iter().find(|w| starts_word(&lower, w))?;
    let value_text = rest[word.len()..].trim_start();
    let value_text = value_text.strip_prefix('`').unwrap_or(value_text);
    let mut value = Reader::new(value_text);
    let lit = value.literal()?;
    // The literal ends the clause: `f(x) is 3` yes, `f(x) is 3 + y` or `f(x) = 2n` no.
    let after = value.rest();
    let ends = after.is_empty()
        || after.starts_with(|c: char| c.is_whitespace() || matches!(c, '`' | ',' | ';' | '.' | ')' | ':' | '!' | '?'));
    if !ends || after.trim_start().starts_with(['+', '-', '*', '/', '%']) && !after.trim_start().starts_with("->") {
        return None;
    }
    let used = text.len() - after.len();
    let quote = text[..used].trim_end_matches('`').to_owned();
    Some((Example { callee, call, expect: expect_of(lit), quote, origin: String::new(), module: None }, used))
}

/// `text` starts with `word`, and a word that is letters ends there.
fn starts_word(text: &str, word: &str) -> bool {
    text.starts_with(word)
        && (!word.chars().all(char::is_alphabetic)
            || !text[word.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(u32, String)> {
        text.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.to_owned())).collect()
    }

    fn shown(examples: &[Example]) -> Vec<String> {
        examples
            .iter()
            .map(|e| match &e.expect {
                Expect::Equal(v) => format!("{} == {v}", e.call),
                Expect::Nullish => format!("{} == null", e.call),
                Expect::Throws(n) => format!("{} throws {}", e.call, n.as_deref().unwrap_or("")),
            })
            .collect()
    }

    #[test]
    fn doctests_take_the_line_after_and_a_blank_one_is_null() {
        let doc = "Out of list of strings, return the longest one.\n>>> longest([])\n\n>>> longest(['a', 'b', 'c'])\n'a'\n>>> sum_product([1, 2])\n(3, 2)\n>>> longest(x)\n'a'";
        let names = ["longest".to_owned(), "sum_product".to_owned()];
        let found = examples(&lines(doc), "src/longest.js", Some(&names));
        assert_eq!(
            shown(&found),
            ["longest([]) == null", "longest(['a', 'b', 'c']) == 'a'", "sum_product([1, 2]) == [3, 2]"]
        );
        assert_eq!(found[1].origin, "src/longest.js:4");
        assert_eq!(found[1].quote, ">>> longest(['a', 'b', 'c'])\n'a'");
    }

    #[test]
    fn sentences_and_code_spans_state_examples() {
        let text = "slugify('') returns '' and `slugify('Hello World')` returns `'hello-world'`.\n\
                    fib4(0) -> 0\nfib4(n) -> fib4(n-1) + fib4(n-2).\n\
                    toRoman(0) throws a RangeError; `toRoman(4000)` should throw `RangeError`.\n\
                    format(-1999) === '-$19.99'\nwill_it_fly([3], 5) ➞ true\nMath.max(1, 2) is 2; x.slugify('a') is 'a'; new Stack(1) is {}";
        let found = examples(&lines(text), "the description", None);
        assert_eq!(
            shown(&found),
            [
                "slugify('') == ''",
                "slugify('Hello World') == 'hello-world'",
                "fib4(0) == 0",
                "toRoman(0) throws RangeError",
                "toRoman(4000) throws RangeError",
                "format(-1999) == '-$19.99'",
                "will_it_fly([3], 5) == true",
            ]
        );
        assert_eq!(found[1].quote, "slugify('Hello World')` returns `'hello-world'");
        assert_eq!(found[3].quote, "toRoman(0) throws a RangeError");
        assert_eq!(found[2].origin, "the description, line 2");
    }

    #[test]
    fn prose_that_names_a_function_states_nothing() {
        let text = "Call parse(text) to read it. If isEmpty(list) is true then stop. add(1, 2) is 3 + 0";
        assert!(examples(&lines(text), "the description", None).is_empty());
    }
}
