/**
 * CPU time of each thread of a process, from /proc (Linux only; empty elsewhere),
 * to see where a server's time goes: its main thread, worker threads, DuckDB's
 * threads and V8's helper threads (garbage collection, compilation).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** [{tid, ms}] for every thread of `pid`, in creation order (thread ids ascending). */
export function threadCpu(pid) {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const threads = [];
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks of 10 ms.
      threads.push({ tid: Number(tid), ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return threads.sort((a, b) => a.tid - b.tid);
}
