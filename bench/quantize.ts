/**
 * RTN quantization throughput, in MB/s of fp32 weights processed, on synthetic
 * SmolLM2-135M-shaped linear weights (dim 576, FFN 1536, 9 heads / 3 KV heads of 64,
 * 30 layers x 7 matrices, 106 M weights, 425 MB; random with a fixed seed):
 *   scalar reference | WASM SIMD, 1 thread | WASM SIMD worker pool | memcpy (the ceiling)
 * (The pool is also timed on weights in a SharedArrayBuffer, which workers read in place.)
 * Run: npx tsx bench/quantize.ts [--layers 30] [--reps 3] [--recipe int4-g32-sym]
 * Figures are best-of-reps wall time; the 1-thread figures also come as CPU time, which
 * is steadier on a busy machine. Correctness is tested elsewhere; this only times.
 */
import { availableParallelism, loadavg } from 'node:os';
import { ensureWasm } from '../scripts/build-wasm.ts';
import type { RtnOptions } from '../src/kernels/quantize/rtn-options.ts';
import { quantizeRtnReference } from '../src/kernels/quantize/rtn-reference.ts';
import { createQuantizePoolNode } from '../src/node/quantize-pool-node.ts';
import { loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const layers = Number(arg('layers', '30'));
const reps = Number(arg('reps', '3'));
const recipe = arg('recipe', 'int4-g32-sym');
const m = /^int(\d)-g(\d+)-(sym|asym)(-f16)?$/.exec(recipe);
if (!m) throw new Error(`--recipe must look like int4-g32-sym or int8-g128-asym-f16, got ${recipe}`);
const opts: RtnOptions = { bits: Number(m[1]), blockSize: Number(m[2]), symmetric: m[3] === 'sym', scaleDtype: m[4] ? 'f16' : 'f32' };

// SmolLM2-135M linear shapes [out, in]: q, k, v, o, gate, up, down
const dim = 576;
const kv = 3 * 64;
const ffn = 1536;
const shapes: [number, number][] = [
  [dim, dim],
  [kv, dim],
  [kv, dim],
  [dim, dim],
  [ffn, dim],
  [ffn, dim],
  [dim, ffn],
];

let seed = 0x5eed;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.08;
const mats: { w: Float32Array; N: number; K: number }[] = [];
for (let l = 0; l < layers; l++) for (const [N, K] of shapes) mats.push({ w: Float32Array.from({ length: N * K }, rand), N, K });
const totalMB = mats.reduce((s, x) => s + x.w.byteLength, 0) / 1e6;

type Timing = { wallMBs: number; cpuMBs: number };
async function time(fn: () => unknown | Promise<unknown>, n: number): Promise<Timing> {
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < n; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const t = performance.now() - t0;
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, t);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
  }
  return { wallMBs: (totalMB / wall) * 1000, cpuMBs: (totalMB / cpu) * 1000 };
}

ensureWasm();
const wasm = await loadQuantizeWasmNode();
const poolSize = availableParallelism();
const pool = await createQuantizePoolNode(poolSize);
const scratch = new Float32Array(Math.max(...mats.map((x) => x.w.length)));

// Warm-up: let V8 tier the wasm and the JS up before timing.
for (const x of mats.slice(0, 7)) {
  wasm.quantizeRtn(x.w, x.N, x.K, opts);
  await pool.quantizeRtn(x.w, x.N, x.K, opts);
  scratch.set(x.w);
}

console.log(
  `RTN ${recipe}: ${mats.length} matrices (${layers} layers x 7), ${totalMB.toFixed(0)} MB fp32; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`,
);
const copy = await time(() => mats.forEach((x) => scratch.set(x.w)), reps);
const ref = await time(() => mats.forEach((x) => quantizeRtnReference(x.w, x.N, x.K, opts)), 1);
const one = await time(() => mats.forEach((x) => wasm.quantizeRtn(x.w, x.N, x.K, opts)), reps);
// The pool takes one matrix at a time, as the streaming pipeline does (one tensor in memory).
const many = await time(async () => {
  for (const x of mats) await pool.quantizeRtn(x.w, x.N, x.K, opts);
}, reps);
// The same with weights already in shared memory, which workers read in place (no slicing).
const sharedMats = mats.map((x) => {
  const w = new Float32Array(new SharedArrayBuffer(x.w.byteLength));
  w.set(x.w);
  return { ...x, w };
});
const manyShared = await time(async () => {
  for (const x of sharedMats) await pool.quantizeRtn(x.w, x.N, x.K, opts);
}, reps);
pool.close();

const row = (name: string, t: Timing, cpu = true) =>
  console.log(
    `${name.padEnd(30)} ${t.wallMBs.toFixed(0).padStart(7)} MB/s wall${cpu ? `  ${t.cpuMBs.toFixed(0).padStart(7)} MB/s cpu` : ''}`,
  );
row('memcpy (Float32Array.set)', copy);
row('scalar reference', ref);
row('WASM SIMD, 1 thread', one);
row(`WASM SIMD, pool of ${poolSize} workers`, many, false);
row(`  same, weights in SharedArrayBuffer`, manyShared, false);
console.log(
  `WASM 1 thread / reference: ${(one.wallMBs / ref.wallMBs).toFixed(1)}x wall, ${(one.cpuMBs / ref.cpuMBs).toFixed(1)}x cpu (bar: 4x)`,
);
console.log(
  `WASM 1 thread / memcpy:    ${((100 * one.wallMBs) / copy.wallMBs).toFixed(0)}% wall, ${((100 * one.cpuMBs) / copy.cpuMBs).toFixed(0)}% cpu (bar: 25%)`,
);
console.log(
  `WASM pool / memcpy:        ${((100 * many.wallMBs) / copy.wallMBs).toFixed(0)}% wall (shared: ${((100 * manyShared.wallMBs) / copy.wallMBs).toFixed(0)}%)`,
);
