//! The repair of a reply whose replacement is whole definitions of the file.

use samokoder_context::{FileIndex, Lang};

/// Blocks whose replacements are whole top-level definitions of the file (the function being written, by
/// name): those definitions replace the file's, whether or not the SEARCH lines were found. A small model
/// answers a TODO inside `function longest(...)` with the whole function (Qwen 1.5B did, and its SEARCH
/// line matched, so the function landed nested inside itself), or with SEARCH lines that match nothing.
/// A definition the file does not have lands before the first one replaced. `None` when a replacement is
/// anything else.
pub fn whole_definitions(path: &str, current: &str, replacements: &[&str]) -> Option<(String, Vec<String>)> {
    let lang = Lang::from_path(path)?;
    let old = FileIndex::parse(path, lang, current.to_owned());
    let top = |index: &FileIndex| -> Vec<(String, std::ops::Range<usize>)> {
        index
            .definitions()
            .filter(|t| t.container.is_none() && t.kind != samokoder_context::TagKind::Reference)
            .map(|t| (t.name.clone(), t.node_range.clone()))
            .collect()
    };
    let existing = top(&old);
    let mut text = current.to_owned();
    let mut replaced = Vec::new();
    for replacement in replacements {
        let new = FileIndex::parse(path, lang, (*replacement).to_owned());
        // A definition cut short (`function sum(a, b) {` and no end) is a fragment, not a whole one.
        if !new.syntax_issues().is_empty() {
            return None;
        }
        let defs = top(&new);
        // Whole definitions and nothing else (blank lines and comments aside).
        let spans: Vec<(usize, usize)> = defs.iter().map(|(_, r)| lines_of(replacement, r)).collect();
        let mut offset = 0;
        let mut stray = false;
        for line in replacement.split_inclusive('\n') {
            let t = line.trim();
            let comment = t.is_empty() || t.starts_with("//") || t.starts_with("/*") || t.starts_with('*');
            if !comment && !spans.iter().any(|(a, b)| *a <= offset && offset < *b) {
                stray = true;
            }
            offset += line.len();
        }
        if defs.is_empty() || stray {
            return None;
        }
        let mut anchor: Option<usize> = None;
        let mut new_ones = String::new();
        for (name, range) in &defs {
            let (start, end) = lines_of(replacement, range);
            let mut body = replacement[start..end].to_owned();
            if !body.ends_with('\n') {
                body.push('\n');
            }
            if !existing.iter().any(|(n, _)| n == name) {
                new_ones.push_str(&body);
                new_ones.push('\n');
                continue;
            }
            let current_defs = top(&FileIndex::parse(path, lang, text.clone()));
            let (_, at) = current_defs.iter().find(|(n, _)| n == name)?;
            let (old_start, old_end) = lines_of(&text, at);
            if text[old_start..old_end].trim_start().starts_with("export ") && !body.trim_start().starts_with("export ")
            {
                body = format!("export {}", body.trim_start());
            }
            text.replace_range(old_start..old_end, &body);
            anchor = Some(anchor.map_or(old_start, |a: usize| a.min(old_start)));
            replaced.push(name.clone());
        }
        let anchor = anchor?;
        if !new_ones.is_empty() {
            text.insert_str(anchor, &new_ones);
        }
    }
    (!replaced.is_empty()).then_some((text, replaced))
}

/// The whole lines `range` spans in `text`: from its line's start to after its last line's newline.
fn lines_of(text: &str, range: &std::ops::Range<usize>) -> (usize, usize) {
    let start = text[..range.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let end = text[range.end.min(text.len())..].find('\n').map_or(text.len(), |i| range.end + i + 1);
    (start, end)
}
