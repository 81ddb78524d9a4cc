export function fizzbuzz(n) {
  // TODO(samokoder): return an array of strings for 1..n: 'Fizz' for multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for both, else the number
}
