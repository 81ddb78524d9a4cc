//! Properties of what parses outside input, over generated cases (proptest; the case count is proptest's
//! default, 256, or `PROPTEST_CASES`): the jail never admits a path outside the root, whatever the string;
//! SEARCH/REPLACE never panics on any file and blocks (Unicode whitespace included), and a block that
//! quotes a line the file has once lands; positions in any encoding never panic.

use std::path::Component;

use proptest::prelude::*;
use samokoder_edits::{Block, Jail, LineIndex, Position, PositionEncoding, apply_blocks};

/// Path-like strings: separators, dots, drive letters, NUL and multibyte characters, in any order.
fn path_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("C:".to_owned()),
        Just("~".to_owned()),
        Just("\u{0}".to_owned()),
        Just("%2e%2e".to_owned()),
        Just(".git".to_owned()),
        "[a-zé\u{3000}]{1,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

/// Text lines with the whitespace that trips byte arithmetic: tabs, U+00A0, U+3000, CRLF.
fn line() -> impl Strategy<Value = String> {
    "[ \t\u{a0}\u{3000}]{0,3}[a-z(){};é]{0,8}"
}

fn text() -> impl Strategy<Value = String> {
    (prop::collection::vec(line(), 0..12), any::<bool>(), any::<bool>()).prop_map(|(lines, crlf, last)| {
        let ending = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(ending);
        if last && !text.is_empty() {
            text.push_str(ending);
        }
        text
    })
}

/// One jail for every case: a root made once (a directory per case cost most of the test's time).
fn jail() -> &'static Jail {
    static JAIL: std::sync::OnceLock<(tempfile::TempDir, Jail)> = std::sync::OnceLock::new();
    let (_, jail) = JAIL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        (dir, jail)
    });
    jail
}

proptest! {
    #[test]
    fn the_jail_never_admits_a_path_outside_the_root(raw in prop_oneof![path_like(), any::<String>()]) {
        let jail = jail();
        if let Ok(rel) = jail.check(&raw) {
            let abs = jail.abs(&rel);
            prop_assert!(abs.starts_with(jail.root()), "{raw:?} -> {abs:?}");
            let rel_path = std::path::Path::new(rel.as_str());
            prop_assert!(
                rel_path.components().all(|c| matches!(c, Component::Normal(_))),
                "{raw:?} -> {:?}", rel.as_str()
            );
            prop_assert!(!rel.as_str().contains('\0'));
        }
    }

    #[test]
    fn search_replace_never_panics_and_a_quoted_line_lands(
        file in text(),
        search in prop::collection::vec(line(), 0..4),
        replace in prop::collection::vec(line(), 0..4),
        pick in any::<prop::sample::Index>(),
    ) {
        // Any blocks at all: an answer or an error, never a panic.
        let block = Block { search: search.join("\n"), replace: replace.join("\n") };
        let _ = apply_blocks(Some(&file), std::slice::from_ref(&block));
        let _ = apply_blocks(None, std::slice::from_ref(&block));
        // A block quoting one line the file holds once, with other indentation, lands there.
        let lines: Vec<&str> = file.lines().collect();
        if !lines.is_empty() {
            let quoted = lines[pick.index(lines.len())].trim();
            let unique = !quoted.is_empty() && lines.iter().filter(|l| l.trim() == quoted).count() == 1
                && lines.iter().filter(|l| l.contains(quoted)).count() == 1;
            if unique {
                let block = Block { search: format!(" {quoted}\n"), replace: "REPLACED\n".into() };
                let (out, _) = apply_blocks(Some(&file), &[block]).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert!(out.contains("REPLACED"), "{out:?}");
            }
        }
    }

    #[test]
    fn positions_in_any_encoding_never_panic(file in text(), line in 0u32..20, character in 0u32..40) {
        let rope = ropey::Rope::from_str(&file);
        let index = LineIndex::new(&rope);
        for encoding in [PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32] {
            let offset = index.offset(Position { line, character }, encoding);
            prop_assert!(file.is_char_boundary(offset), "{offset} in {file:?}");
            let back = index.position(offset, encoding);
            prop_assert_eq!(index.offset(back, encoding), offset);
        }
    }
}
