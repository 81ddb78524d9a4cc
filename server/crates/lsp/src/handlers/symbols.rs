//! textDocument/documentSymbol and workspace/symbol, from the context index (never waiting for it).

use samokoder_context::{FileIndex, Tag, TagKind};
use samokoder_edits::PositionEncoding;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use crate::{Backend, from_proto, to_proto};

pub(crate) fn document_symbol(
    backend: &Backend,
    params: lsp::DocumentSymbolParams,
) -> Result<Option<lsp::DocumentSymbolResponse>> {
    let engine = backend.engine()?;
    let Some(rel) = from_proto::path(&params.text_document.uri).and_then(|p| engine.jail().relativize(&p)) else {
        return Ok(None);
    };
    let index = engine.index();
    let index = index.read();
    let Some(file) = index.file(rel.as_str()) else { return Ok(None) };
    let enc = backend.caps().encoding;
    // Nest by containment: a stack of open definitions, in document order.
    let mut defs: Vec<&Tag> = file.definitions().collect();
    defs.sort_by_key(|t| (t.node_range.start, std::cmp::Reverse(t.node_range.end)));
    let mut roots: Vec<lsp::DocumentSymbol> = Vec::new();
    let mut stack: Vec<(usize, lsp::DocumentSymbol)> = Vec::new();
    for tag in defs {
        while stack.last().is_some_and(|(end, _)| tag.node_range.start >= *end) {
            let (_, done) = stack.pop().unwrap();
            attach(&mut stack, &mut roots, done);
        }
        stack.push((tag.node_range.end, symbol(file, tag, enc)));
    }
    while let Some((_, done)) = stack.pop() {
        attach(&mut stack, &mut roots, done);
    }
    Ok(Some(lsp::DocumentSymbolResponse::Nested(roots)))
}

fn attach(
    stack: &mut [(usize, lsp::DocumentSymbol)],
    roots: &mut Vec<lsp::DocumentSymbol>,
    symbol: lsp::DocumentSymbol,
) {
    match stack.last_mut() {
        Some((_, parent)) => parent.children.get_or_insert_with(Vec::new).push(symbol),
        None => roots.push(symbol),
    }
}

#[allow(deprecated)] // `deprecated` is a required field of the struct in this lsp-types version
fn symbol(file: &FileIndex, tag: &Tag, enc: PositionEncoding) -> lsp::DocumentSymbol {
    lsp::DocumentSymbol {
        name: tag.name.clone(),
        detail: Some(tag.signature.clone()),
        kind: kind(tag.kind),
        tags: None,
        deprecated: None,
        range: range(file, tag.node_range.clone(), enc),
        selection_range: range(file, tag.name_range.clone(), enc),
        children: None,
    }
}

pub(crate) fn workspace_symbol(
    backend: &Backend,
    params: lsp::WorkspaceSymbolParams,
) -> Result<Option<Vec<lsp::SymbolInformation>>> {
    let engine = backend.engine()?;
    let enc = backend.caps().encoding;
    let index = engine.index();
    let index = index.read();
    let mut out = Vec::new();
    for found in index.symbols(&params.query, 256) {
        let (Some(file), Some(uri)) = (index.file(&found.path), to_proto::url(&engine.root().join(&found.path))) else {
            continue;
        };
        #[allow(deprecated)]
        out.push(lsp::SymbolInformation {
            name: found.tag.name.clone(),
            kind: kind(found.tag.kind),
            tags: None,
            deprecated: None,
            location: lsp::Location { uri, range: range(file, found.tag.name_range.clone(), enc) },
            container_name: found.container.clone(),
        });
    }
    Ok(Some(out))
}

fn kind(kind: TagKind) -> lsp::SymbolKind {
    match kind {
        TagKind::Function | TagKind::Component => lsp::SymbolKind::FUNCTION,
        TagKind::Class => lsp::SymbolKind::CLASS,
        TagKind::Method => lsp::SymbolKind::METHOD,
        TagKind::Interface => lsp::SymbolKind::INTERFACE,
        TagKind::Type => lsp::SymbolKind::TYPE_PARAMETER,
        TagKind::Enum => lsp::SymbolKind::ENUM,
        TagKind::Module => lsp::SymbolKind::NAMESPACE,
        TagKind::Const => lsp::SymbolKind::CONSTANT,
        TagKind::Let | TagKind::Reference => lsp::SymbolKind::VARIABLE,
    }
}

fn range(file: &FileIndex, bytes: std::ops::Range<usize>, enc: PositionEncoding) -> lsp::Range {
    lsp::Range::new(position(file, bytes.start, enc), position(file, bytes.end, enc))
}

fn position(file: &FileIndex, offset: usize, enc: PositionEncoding) -> lsp::Position {
    let (line, prefix) = file.line_prefix(offset);
    lsp::Position::new(line, to_proto::units(prefix, enc))
}
