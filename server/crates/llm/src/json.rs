//! Getting JSON out of what models write: the value may be wrapped in prose or a fenced block, carry
//! trailing commas or comments, or be cut short. Extraction and repair are purely syntactic; whether the
//! value has the right shape is for the typed parse, whose error goes back to the model.

/// The JSON value in a reply: a fenced ```json block if there is one, else the first balanced `{...}` or
/// `[...]`, else the whole text trimmed.
pub fn extract_json(text: &str) -> String {
    if let Some(block) = fenced(text) {
        return block;
    }
    match balanced(text) {
        Some(found) => found.to_owned(),
        None => text.trim().to_owned(),
    }
}

fn fenced(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            let info = info.trim().to_ascii_lowercase();
            if !(info.is_empty() || info == "json" || info == "jsonc" || info == "json5") {
                continue;
            }
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.trim_start().starts_with("```")).collect();
            let body = body.join("\n");
            if body.trim_start().starts_with(['{', '[']) {
                return Some(body.trim().to_owned());
            }
        }
    }
    None
}

/// The first `{` or `[` and its matching close, respecting strings.
fn balanced(text: &str) -> Option<&str> {
    let start = text.find(['{', '['])?;
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + i + c.len_utf8()]);
                }
            }
            _ => {}
        }
    }
    Some(&text[start..]) // unbalanced: let the parser say where it breaks
}

/// Removes what JSON forbids but models write: `//` and `/* */` comments and trailing commas, outside
/// strings.
pub fn repair_json(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    let mut escaped = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            ',' => {
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if !matches!(next, Some('}') | Some(']')) {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Parses a reply into `T`: as it is, then extracted and repaired. The error is the typed parse's, with
/// line and column, ready to show the model.
pub(crate) fn parse_reply<T: serde::de::DeserializeOwned>(reply: &str) -> Result<T, String> {
    if let Ok(value) = serde_json::from_str::<T>(reply.trim()) {
        return Ok(value);
    }
    let candidate = repair_json(&extract_json(reply));
    serde_json::from_str::<T>(&candidate).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Plan {
        steps: Vec<String>,
        done: bool,
    }

    #[test]
    fn finds_json_in_prose_fences_and_repairs_it() {
        let expected = Plan { steps: vec!["a".into(), "b, }".into()], done: true };
        for reply in [
            r#"{"steps": ["a", "b, }"], "done": true}"#,
            "Sure! Here is the plan:\n```json\n{\"steps\": [\"a\", \"b, }\",], \"done\": true,}\n```\nHope it helps.",
            "The plan is {\"steps\": [\"a\", // first\n \"b, }\"], /* all */ \"done\": true} as requested.",
            "```\n{\"steps\": [\"a\", \"b, }\"], \"done\": true}\n```",
        ] {
            assert_eq!(parse_reply::<Plan>(reply), Ok(expected.clone_plan()), "{reply}");
        }
    }

    #[test]
    fn a_missing_field_is_an_error_that_names_it() {
        let err = parse_reply::<Plan>("```json\n{\"steps\": []}\n```").unwrap_err();
        assert!(err.contains("missing field `done`"), "{err}");
    }

    impl Plan {
        fn clone_plan(&self) -> Plan {
            Plan { steps: self.steps.clone(), done: self.done }
        }
    }
}
