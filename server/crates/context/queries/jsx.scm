; JSX usage of components (TSX grammar only). Lower-case names are HTML elements, not components.
((jsx_opening_element name: (identifier) @name) @reference.component
  (#match? @name "^[A-Z]"))
((jsx_self_closing_element name: (identifier) @name) @reference.component
  (#match? @name "^[A-Z]"))
