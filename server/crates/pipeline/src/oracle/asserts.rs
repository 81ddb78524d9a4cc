//! Generated tests as hypotheses: the assertions a model wrote (`assert.deepStrictEqual(f(x), y);`,
//! `assert.throws(() => f(x), RangeError);`, Jest's `expect(f(x)).toBe(y)`), read one per line into the same
//! form as a stated example, so that each can be run against every candidate, weighed against the others,
//! and dropped when a stated example contradicts it. A line that is not such an assertion (a loop, a helper,
//! a call with a variable in it) is not a test we can weigh, and is left out.

use super::extract::call_at;
use super::literal::Reader;
use super::{Example, Expect};

const EQUALS: &[&str] = &["deepStrictEqual", "strictEqual", "deepEqual", "equal"];
const JEST_EQUALS: &[&str] = &["toStrictEqual", "toEqual", "toBe"];

/// The assertions in `text` on calls of `names`, each as an example quoting its line; `origin` says whose.
pub fn hypotheses(text: &str, names: &[String], origin: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(example) = assertion(line, names) else { continue };
        if !out.iter().any(|e| e.call == example.call) {
            out.push(Example { quote: line.to_owned(), origin: origin.to_owned(), ..example });
        }
    }
    out
}

/// The lines (0-based) of a test file that assert what a stated example contradicts: the same call, another
/// result. Each with the sentence that says why it goes.
pub fn contradicted(text: &str, examples: &[Example]) -> Vec<(usize, String)> {
    let mut names: Vec<String> = examples.iter().map(|e| e.callee.clone()).collect();
    names.dedup();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let asserted = assertion(line.trim(), &names)?;
            let stated = examples.iter().find(|e| e.call == asserted.call)?;
            let both_throw = matches!((&stated.expect, &asserted.expect), (Expect::Throws(_), Expect::Throws(_)));
            (stated.expect != asserted.expect && !both_throw).then(|| {
                let why = format!(
                    "the generated test `{}` contradicts the stated example `{}` ({}: \"{}\"): dropped",
                    line.trim(),
                    stated.statement(),
                    stated.origin,
                    stated.quote
                );
                (i, why)
            })
        })
        .collect()
}

fn assertion(line: &str, names: &[String]) -> Option<Example> {
    let mut r = Reader::new(line);
    if word(&mut r, "assert") {
        if r.eat('.') {
            let method = identifier(&mut r)?;
            if !r.eat('(') {
                return None;
            }
            if method == "throws" {
                return throws(&mut r, names);
            }
            if !EQUALS.contains(&method.as_str()) {
                return None;
            }
            let (callee, call) = call_at(&mut r, Some(names))?;
            if !r.eat(',') {
                return None;
            }
            let lit = r.literal()?;
            return closes(&mut r).then(|| example(callee, call, lit));
        }
        // assert(f(x) === y)
        if !r.eat('(') {
            return None;
        }
        let (callee, call) = call_at(&mut r, Some(names))?;
        r.skip_ws();
        let rest = r.rest();
        let op = ["===", "=="].into_iter().find(|op| rest.starts_with(op))?;
        let mut r = Reader::new(&rest[op.len()..]);
        let lit = r.literal()?;
        return closes(&mut r).then(|| example(callee, call, lit));
    }
    if word(&mut r, "expect") && r.eat('(') {
        let (callee, call) = call_at(&mut r, Some(names))?;
        if !r.eat(')') || !r.eat('.') {
            return None;
        }
        let method = identifier(&mut r)?;
        if !r.eat('(') {
            return None;
        }
        if method == "toThrow" {
            r.skip_ws();
            let name = identifier(&mut r);
            return closes(&mut r).then(|| Example {
                callee,
                call,
                expect: Expect::Throws(name),
                quote: String::new(),
                origin: String::new(),
                module: None,
            });
        }
        if !JEST_EQUALS.contains(&method.as_str()) {
            return None;
        }
        let lit = r.literal()?;
        return closes(&mut r).then(|| example(callee, call, lit));
    }
    None
}

/// `assert.throws(() => f(x)[, Name])`, after its `(`.
fn throws(r: &mut Reader<'_>, names: &[String]) -> Option<Example> {
    if !r.eat('(') || !r.eat(')') {
        return None;
    }
    r.skip_ws();
    let rest = r.rest().strip_prefix("=>")?;
    let mut inner = Reader::new(rest);
    let braced = inner.eat('{');
    let (callee, call) = call_at(&mut inner, Some(names))?;
    if braced {
        inner.eat(';');
        if !inner.eat('}') {
            return None;
        }
    }
    let name = if inner.eat(',') {
        inner.skip_ws();
        Some(identifier(&mut inner)?)
    } else {
        None
    };
    closes(&mut inner).then(|| Example {
        callee,
        call,
        expect: Expect::Throws(name),
        quote: String::new(),
        origin: String::new(),
        module: None,
    })
}

fn example(callee: String, call: String, lit: super::literal::Lit) -> Example {
    let expect = match lit {
        super::literal::Lit::Null | super::literal::Lit::Undefined => Expect::Nullish,
        lit => Expect::Equal(lit.to_js()),
    };
    Example { callee, call, expect, quote: String::new(), origin: String::new(), module: None }
}

/// The assertion's call closes (an optional message argument allowed), then an optional `;`.
fn closes(r: &mut Reader<'_>) -> bool {
    if r.eat(',') {
        // A message: a string literal.
        if r.literal().is_none() {
            return false;
        }
    }
    if !r.eat(')') {
        return false;
    }
    r.eat(';');
    r.skip_ws();
    r.rest().is_empty() || r.rest().starts_with("//")
}

fn word(r: &mut Reader<'_>, word: &str) -> bool {
    r.skip_ws();
    let rest = r.rest();
    if rest.starts_with(word) && !rest[word.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        *r = Reader::new(&rest[word.len()..]);
        true
    } else {
        false
    }
}

fn identifier(r: &mut Reader<'_>) -> Option<String> {
    r.skip_ws();
    let rest = r.rest();
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let name = rest[..end].to_owned();
    *r = Reader::new(&rest[end..]);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_a_stated_example_contradicts_is_found_by_its_line() {
        let stated = Example {
            callee: "slugify".into(),
            call: "slugify('Hello-World')".into(),
            expect: Expect::Equal("'hello-world'".into()),
            quote: "slugify('Hello-World') returns 'hello-world'".into(),
            origin: "the description, line 1".into(),
            module: None,
        };
        let test = "test('slugs', () => {\n  assert.strictEqual(slugify(\"Hello-World\"), 'helloworld');\n  assert.strictEqual(slugify('Hello-World'), 'hello-world');\n  assert.strictEqual(slugify('a'), 'a');\n});\n";
        let found = contradicted(test, std::slice::from_ref(&stated));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
        assert!(
            found[0].1.contains("contradicts the stated example `slugify('Hello-World') should be 'hello-world'`"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn assertions_in_every_common_form_become_hypotheses() {
        let reply = "```js\nassert.deepStrictEqual(longest(['a', 'bb']), 'bb');\nassert.strictEqual(longest([]), null, 'empty');\n\
                     assert(longest(['x']) === 'x');\nexpect(longest(['ab', 'c'])).toBe('ab');\n\
                     assert.throws(() => longest(5), TypeError);\nassert.throws(() => { longest(null); });\n\
                     for (const s of xs) assert.equal(longest([s]), s);\nassert.equal(longest(['q']).length, 1);\n\
                     assert.deepStrictEqual(other(1), 1);\nassert.deepStrictEqual(longest(['a', 'bb']), 'a');\n```";
        let found = hypotheses(reply, &["longest".to_owned()], "the test writer");
        let shown: Vec<String> = found.iter().map(|e| e.statement()).collect();
        assert_eq!(
            shown,
            [
                "longest(['a', 'bb']) should be 'bb'",
                "longest([]) should be null",
                "longest(['x']) should be 'x'",
                "longest(['ab', 'c']) should be 'ab'",
                "longest(5) should throw a TypeError",
                "longest(null) should throw",
            ]
        );
        assert_eq!(found[0].quote, "assert.deepStrictEqual(longest(['a', 'bb']), 'bb');");
        assert_eq!(found[0].origin, "the test writer");
    }
}
