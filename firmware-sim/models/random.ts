/**
 * Deterministic randomness for the simulators. Two kinds:
 * - `mulberry32(seed)`: a sequential PRNG, for one-off draws (e.g. building a table at start);
 * - `uniformAt(seed, ...keys)` and friends: a stateless hash of (seed, keys), so a value at a given
 *   simulated time is the same however the simulation was stepped to get there. The models use
 *   these for everything that depends on time, which is what makes them step-size independent.
 * No Math.random anywhere.
 */

/** mulberry32 (Tommy Ettinger, public domain): tiny, fast, good enough for simulation. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Final mixer of murmur3 (fmix32): spreads every input bit over the output. */
function fmix32(h: number): number {
  let x = h >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

const TWO_POW_32 = 4294967296

/** Hash a seed and integer keys (any safe integer, including ms timestamps) to a uint32. */
export function hash32(seed: number, ...keys: number[]): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9)
  for (const key of keys) {
    const k = Math.trunc(key)
    const lo = k >>> 0
    const hi = Math.floor(k / TWO_POW_32) >>> 0
    h = fmix32(h ^ fmix32(lo + 0x7f4a7c15))
    h = fmix32(h ^ fmix32(hi + 0x165667b1))
  }
  return h
}

/** Uniform in [0, 1) from (seed, keys). */
export function uniformAt(seed: number, ...keys: number[]): number {
  return hash32(seed, ...keys) / TWO_POW_32
}

/** Standard normal from (seed, keys), by Box–Muller on two independent hashes. */
export function gaussianAt(seed: number, ...keys: number[]): number {
  const u1 = Math.max(uniformAt(seed, ...keys, 1), 1e-12)
  const u2 = uniformAt(seed, ...keys, 2)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/**
 * Smooth 1-D value noise in [-1, 1]: random values at integer knots of `x`, joined by a smoothstep,
 * so it is continuous in time (clouds, wind and pressure drift without jumps).
 */
export function valueNoise(seed: number, channel: number, x: number): number {
  const i = Math.floor(x)
  const f = x - i
  const s = f * f * (3 - 2 * f)
  const a = uniformAt(seed, channel, i) * 2 - 1
  const b = uniformAt(seed, channel, i + 1) * 2 - 1
  return a + (b - a) * s
}

/** Turn a string seed (e.g. a device id) into a uint32 seed (FNV-1a). */
export function seedFromString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
