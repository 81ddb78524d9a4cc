// average(numbers): the mean of the numbers; 0 for an empty list.
export function average(numbers) {
  let total = 0;
  for (const n of numbers) total += n;
  return Math.floor(total / numbers.length);
}
