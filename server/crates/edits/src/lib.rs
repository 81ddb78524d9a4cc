//! Text and files: the documents the editor holds, positions in every encoding the protocol speaks, change
//! sets produced by agents (whole files, or SEARCH/REPLACE blocks applied by `search_replace`), the minimal
//! edits that carry them, and the jail every write goes through.
//!
//! Inside the server a position is a byte offset. Line/character positions in UTF-8, UTF-16 or UTF-32 exist
//! only at the boundary, and are converted here (`LineIndex`) and nowhere else.
//!
//! This crate must never do IO except through [`Jail`], which refuses any path outside the workspace root,
//! and never know about LSP or JSON-RPC: its types are plain Rust.

mod change_set;
mod document;
mod jail;
mod line_index;
mod search_replace;

pub use change_set::{ChangeSet, FileChange, TextEdit, merge3, minimal_edits, unified_diff};
pub use document::{ByteEdit, ChangeOutcome, ContentChange, Document, DocumentError};
pub use jail::{DEFAULT_MAX_FILE_BYTES, Jail, JailError, Protection, RelPath};
pub use line_index::{LineIndex, Position, PositionEncoding, Range};
pub use search_replace::{Block, BlockError, FUZZY_THRESHOLD, Found, apply_blocks};
