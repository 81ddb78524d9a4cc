export function countWords(text) {
  // TODO(samokoder): return how many words text has (words are separated by whitespace; an empty or blank text has 0)
}
