//! Multi-file fixtures in the rust-analyzer style:
//!
//! ```text
//! //- /src/a.ts
//! export const a = 1;
//! //- /test/a.test.js
//! ...
//! ```
//!
//! `$0` marks a cursor (at most one per fixture); it is removed from the text and its byte offset kept.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub files: Vec<(String, String)>,
    /// The file and byte offset of `$0`, if any.
    pub cursor: Option<(String, usize)>,
}

impl Fixture {
    pub fn parse(text: &str) -> Self {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut cursor = None;
        for line in text.trim_start_matches(['\n', ' ']).split_inclusive('\n') {
            if let Some(path) = line.strip_prefix("//- ") {
                files.push((path.trim().trim_start_matches('/').to_owned(), String::new()));
                continue;
            }
            let (path, body) = files.last_mut().expect("a fixture starts with `//- /path`");
            if let Some(at) = line.find("$0") {
                assert!(cursor.is_none(), "a fixture has at most one $0");
                cursor = Some((path.clone(), body.len() + at));
                body.push_str(&line.replacen("$0", "", 1));
            } else {
                body.push_str(line);
            }
        }
        Self { files, cursor }
    }

    pub fn file(&self, path: &str) -> &str {
        &self.files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("no {path} in fixture")).1
    }
}

/// Writes a fixture's files under `root`.
pub fn write_fixture(root: &Path, text: &str) -> Fixture {
    let fixture = Fixture::parse(text);
    for (path, body) in &fixture.files {
        let abs = root.join(path);
        std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
        std::fs::write(abs, body).unwrap();
    }
    fixture
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_files_and_cursor() {
        let f = Fixture::parse("//- /src/a.ts\nconst a = 1;\n//- /b.js\nf($0x);\n");
        assert_eq!(f.file("src/a.ts"), "const a = 1;\n");
        assert_eq!(f.file("b.js"), "f(x);\n");
        assert_eq!(f.cursor, Some(("b.js".to_owned(), 2)));
    }
}
