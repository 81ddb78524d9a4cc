export function clamp(value, min, max) {
  // TODO(samokoder): return value limited to the range from min to max
}
