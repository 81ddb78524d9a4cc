// capitalize(word): the word with its first letter in upper case and the rest unchanged.
export function capitalize(word) {
  return word.charAt(0).toUpperCase();
}
