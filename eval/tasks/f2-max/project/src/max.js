// max(list): the largest number of a non-empty list.
export function max(list) {
  let best = list[0];
  for (const x of list) {
    if (x < best) best = x;
  }
  return best;
}
