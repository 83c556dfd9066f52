/** Small timing helpers shared by the benchmarks. */

/** Runs `fn` and returns its result with the wall time in milliseconds. */
export async function timed(fn) {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/** Calls `worker` on every item with at most `concurrency` calls in flight, in order of items. */
export async function runConcurrently(items, concurrency, worker) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await worker(item);
    }
  });
  await Promise.all(lanes);
}

/** `123,456 events/s`, right-aligned. */
export function formatRate(perSecond) {
  return `${Math.round(perSecond).toLocaleString('en-US').padStart(9)} events/s`;
}

/** Median of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
