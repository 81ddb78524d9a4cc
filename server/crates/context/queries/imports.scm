; Module specifiers: import and re-export sources, require() and dynamic import().
(import_statement source: (string (string_fragment) @source))
(export_statement source: (string (string_fragment) @source))
(call_expression
  function: (identifier) @require
  arguments: (arguments . (string (string_fragment) @source)))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @source)))
