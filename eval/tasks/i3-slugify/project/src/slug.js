export function slugify(title) {
  // TODO(samokoder): lower-case the title, turn runs of spaces into one dash, and drop every character that is not a letter, a digit or a dash
}
