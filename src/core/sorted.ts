/**
 * Binary searches over an ascending array of numbers, from an optional start index (the ROC statistics and the
 * velocity window use them).
 */

/** The first index ≥ from whose value is ≥ x. */
export function lowerBound(a: readonly number[], x: number, from = 0): number {
  return firstIndexAbove(a, x, from, false);
}

/** The first index ≥ from whose value is > x. */
export function upperBound(a: readonly number[], x: number, from = 0): number {
  return firstIndexAbove(a, x, from, true);
}

// A flag rather than a predicate: the velocity window calls this on every event, and a closure would allocate.
function firstIndexAbove(a: readonly number[], x: number, from: number, strictly: boolean): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v < x || (strictly && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
