//! The engine's types into protocol types.

use std::collections::HashMap;

use ropey::Rope;
use samokoder_edits::{LineIndex, Position, PositionEncoding};
use samokoder_engine::PlannedEdit;
use samokoder_sandbox::TestFailure;
use tower_lsp::lsp_types as lsp;

pub(crate) fn encoding_kind(enc: PositionEncoding) -> lsp::PositionEncodingKind {
    match enc {
        PositionEncoding::Utf8 => lsp::PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => lsp::PositionEncodingKind::UTF16,
        PositionEncoding::Utf32 => lsp::PositionEncodingKind::UTF32,
    }
}

/// The length of `text` in the encoding's units.
pub(crate) fn units(text: &str, enc: PositionEncoding) -> u32 {
    match enc {
        PositionEncoding::Utf8 => text.len() as u32,
        PositionEncoding::Utf16 => text.encode_utf16().count() as u32,
        PositionEncoding::Utf32 => text.chars().count() as u32,
    }
}

pub(crate) fn position(p: Position) -> lsp::Position {
    lsp::Position::new(p.line, p.character)
}

pub(crate) fn url(path: &std::path::Path) -> Option<lsp::Url> {
    lsp::Url::from_file_path(path).ok()
}

/// What the client's workspace edits can hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct EditOptions {
    /// `documentChanges` with `CreateFile`: without it, the caller creates new files itself.
    pub document_changes: bool,
    /// `DeleteFile` operations: without them, the caller deletes files itself.
    pub delete_files: bool,
    /// Files whose edits need the user's confirmation (a change annotation with `needsConfirmation`).
    pub confirm: Vec<std::path::PathBuf>,
}

const CONFIRM_ANNOTATION: &str = "samokoder.confirm";

/// A workspace edit for the planned file edits. With `document_changes`, new files are `CreateFile`
/// operations followed by their content; without it, the caller must create new files itself.
pub(crate) fn workspace_edit(
    planned: &[PlannedEdit],
    enc: PositionEncoding,
    options: &EditOptions,
) -> lsp::WorkspaceEdit {
    let document_changes = options.document_changes;
    let mut ops = Vec::new();
    let mut changes: HashMap<lsp::Url, Vec<lsp::TextEdit>> = HashMap::new();
    let annotate =
        |path: &std::path::Path| options.confirm.iter().any(|c| c == path).then(|| CONFIRM_ANNOTATION.to_owned());
    for edit in planned {
        match edit {
            PlannedEdit::Create { path, text } => {
                let Some(uri) = url(path) else { continue };
                if document_changes {
                    ops.push(lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Create(lsp::CreateFile {
                        uri: uri.clone(),
                        options: Some(lsp::CreateFileOptions { overwrite: Some(false), ignore_if_exists: Some(true) }),
                        annotation_id: annotate(path),
                    })));
                    let insert = lsp::TextEdit { range: lsp::Range::default(), new_text: text.clone() };
                    ops.push(lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                        text_document: lsp::OptionalVersionedTextDocumentIdentifier { uri, version: None },
                        edits: vec![lsp::OneOf::Left(insert)],
                    }));
                }
            }
            PlannedEdit::Delete { path } => {
                let Some(uri) = url(path) else { continue };
                if document_changes && options.delete_files {
                    ops.push(lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Delete(lsp::DeleteFile {
                        uri,
                        options: Some(lsp::DeleteFileOptions {
                            recursive: Some(false),
                            ignore_if_not_exists: Some(true),
                            annotation_id: annotate(path),
                        }),
                    })));
                }
            }
            PlannedEdit::Edit { path, version, base, edits } => {
                let Some(uri) = url(path) else { continue };
                let rope = Rope::from_str(base);
                let index = LineIndex::new(&rope);
                let text_edits: Vec<lsp::TextEdit> = edits
                    .iter()
                    .map(|e| {
                        let r = index.range(e.range.clone(), enc);
                        lsp::TextEdit {
                            range: lsp::Range::new(position(r.start), position(r.end)),
                            new_text: e.new_text.clone(),
                        }
                    })
                    .collect();
                if document_changes {
                    let annotation = annotate(path);
                    let edits = text_edits
                        .into_iter()
                        .map(|text_edit| match &annotation {
                            Some(id) => {
                                lsp::OneOf::Right(lsp::AnnotatedTextEdit { text_edit, annotation_id: id.clone() })
                            }
                            None => lsp::OneOf::Left(text_edit),
                        })
                        .collect();
                    ops.push(lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                        text_document: lsp::OptionalVersionedTextDocumentIdentifier { uri, version: *version },
                        edits,
                    }));
                } else {
                    changes.entry(uri).or_default().extend(text_edits);
                }
            }
        }
    }
    if document_changes {
        let change_annotations = (!options.confirm.is_empty()).then(|| {
            HashMap::from([(
                CONFIRM_ANNOTATION.to_owned(),
                lsp::ChangeAnnotation {
                    label: "Changed since Samokoder wrote it".into(),
                    needs_confirmation: Some(true),
                    description: Some(
                        "You edited this file after the run wrote it; the undo overwrites your edits.".into(),
                    ),
                },
            )])
        });
        lsp::WorkspaceEdit {
            document_changes: Some(lsp::DocumentChanges::Operations(ops)),
            change_annotations,
            ..Default::default()
        }
    } else {
        lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() }
    }
}

/// A diagnostic for a failing test, over the failing line (from its first non-blank character to its end).
pub(crate) fn test_diagnostic(failure: &TestFailure, text: &str, enc: PositionEncoding) -> lsp::Diagnostic {
    let rope = Rope::from_str(text);
    let index = LineIndex::new(&rope);
    let line = failure.line.unwrap_or(1).saturating_sub(1) as usize;
    let range = if line < rope.len_lines() {
        let start = rope.line_to_byte(line);
        let content = rope.line(line).to_string();
        let trimmed_end = content.trim_end_matches(['\n', '\r']).len();
        let indent = content.len() - content.trim_start().len();
        let indent = indent.min(trimmed_end);
        let r = index.range(start + indent..start + trimmed_end, enc);
        lsp::Range::new(position(r.start), position(r.end))
    } else {
        lsp::Range::new(lsp::Position::new(line as u32, 0), lsp::Position::new(line as u32, 0))
    };
    let message = if failure.name.is_empty() {
        failure.message.clone()
    } else {
        format!("{}: {}", failure.name, failure.message)
    };
    lsp::Diagnostic {
        range,
        severity: Some(lsp::DiagnosticSeverity::ERROR),
        source: Some("samokoder".into()),
        code: Some(lsp::NumberOrString::String("test-failure".into())),
        message,
        ..Default::default()
    }
}
