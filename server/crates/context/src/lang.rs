//! Grammars and their compiled queries, built once per process.

use std::sync::OnceLock;

use tree_sitter::{Language, Query};

/// Which grammar a file is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    TypeScript,
    /// TSX, also used for JSX and plain JavaScript (its grammar accepts JavaScript and JSX).
    Tsx,
}

impl Lang {
    /// The grammar for a path, by extension; `None` for files this crate does not parse.
    pub fn from_path(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "ts" | "mts" | "cts" => Some(Self::TypeScript),
            "tsx" | "js" | "jsx" | "mjs" | "cjs" => Some(Self::Tsx),
            _ => None,
        }
    }

    pub(crate) fn language(self) -> Language {
        match self {
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        }
    }

    pub(crate) fn queries(self) -> &'static Queries {
        static TS: OnceLock<Queries> = OnceLock::new();
        static TSX: OnceLock<Queries> = OnceLock::new();
        match self {
            Self::TypeScript => TS.get_or_init(|| Queries::new(self, false)),
            Self::Tsx => TSX.get_or_init(|| Queries::new(self, true)),
        }
    }
}

const TAGS: &str = include_str!("../queries/tags.scm");
const JSX: &str = include_str!("../queries/jsx.scm");
const IMPORTS: &str = include_str!("../queries/imports.scm");

/// The tag and import queries as one: a single pass over the tree finds both.
pub(crate) struct Queries {
    pub query: Query,
    pub name: u32,
    pub source: u32,
    pub require: u32,
}

impl Queries {
    fn new(lang: Lang, jsx: bool) -> Self {
        let language = lang.language();
        let source = if jsx { format!("{TAGS}\n{JSX}\n{IMPORTS}") } else { format!("{TAGS}\n{IMPORTS}") };
        let query = Query::new(&language, &source).expect("the queries match the bundled grammar");
        let index = |name: &str| query.capture_index_for_name(name).expect("the queries capture it");
        let (name, source, require) = (index("name"), index("source"), index("require"));
        Self { query, name, source, require }
    }
}
