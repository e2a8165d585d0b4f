/** What the benchmarks read about processes and the machine (Linux /proc). */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** utime + stime of one /proc stat line, in seconds. */
function statCpuSeconds(stat: string): number {
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** CPU seconds (user + system, all threads) a process has used so far. NaN when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return Number.NaN
  }
}

/** User and system CPU seconds (all threads) a process has used so far; NaN when it is gone. */
export function cpuSecondsSplit(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS }
  } catch {
    return { user: Number.NaN, system: Number.NaN }
  }
}

/**
 * CPU seconds of a process's main thread (JavaScript, the event loop) and of all its other
 * threads together (libuv's thread pool: asynchronous crypto and file I/O; V8's GC helpers).
 */
export function cpuSecondsByThread(pid: number): { main: number; others: number } {
  let main = 0
  let others = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let s: number
    try {
      s = statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))
    } catch {
      continue // the thread ended meanwhile
    }
    if (Number(tid) === pid) main += s
    else others += s
  }
  return { main, others }
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
}

/** The process's peak resident set so far, MB. */
export function peakRssMb(pid: number): number {
  return Math.round(statusKb(pid, 'VmHWM') / 1024)
}

/** The process's resident set now, MB. */
export function rssMb(pid: number): number {
  return Math.round(statusKb(pid, 'VmRSS') / 1024)
}

/** The value at percentile `p` of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** The machine a result was measured on. */
export function machine(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    influxd: execFileSync('influxd', ['version']).toString().trim(),
    os: `${os.type()} ${os.release()}`,
  }
}

/**
 * Date.now() - performance.now(), the median of a few samples: add performance.now() for the wall
 * clock at sub-millisecond resolution, comparable between processes. `performance.timeOrigin`
 * is each process's own, taken as it starts; a phase timed from a load process's first send to
 * the parent's "queryable" once came out negative (bench/README.md).
 */
export function wallClockOrigin(): number {
  const samples = Array.from({ length: 5 }, () => Date.now() - performance.now()).sort((a, b) => a - b)
  return samples[2]!
}
