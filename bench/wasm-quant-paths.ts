/**
 * Quantized-weight decode paths on onnxruntime-web's wasm EP (Node), on a synthetic model
 * with the SmolLM2-135M shape (random weights, fixed seed; speed only, never quality):
 * the same RTN block-quantized weights emitted each way `BuildOnnxOptions.quantizedMatMul`
 * allows (see src/build/quant-paths.ts), next to fp32.
 * Each row runs in a fresh child process, so its session memory (RSS growth while the
 * session is created) is not blurred by the wasm heap earlier rows grew.
 * Run: npx tsx bench/wasm-quant-paths.ts [--rows fp32,int4:matmulnbits,...] [--prompt 128] [--decode 16] [--reps 2] [--threads 1] [--layers 30]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { buildOnnxDecoder } from '../src/build/decoder.ts';
import type { LinearHook } from '../src/build/linear-weight.ts';
import type { QuantizedMatMul } from '../src/build/quant-paths.ts';
import { tensorNames } from '../src/model/tensor-table.ts';
import { syntheticConfig, syntheticIR } from '../src/model/synthetic-ir.ts';
import { loadQuantizeWasmNode } from '../src/node/kernel-wasm-node.ts';
import { createOnnxCausalLM } from '../src/runtime/onnx-causal-lm.ts';

const DEFAULTS: Record<string, string> = { prompt: '128', decode: '16', reps: '2', threads: '1', layers: '30' };
const arg = (name: string, fallback = DEFAULTS[name] ?? '') => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const promptLen = Number(arg('prompt'));
const decodeSteps = Number(arg('decode'));
const reps = Number(arg('reps'));
const threads = Number(arg('threads'));
const layers = Number(arg('layers'));
const DEFAULT_ROWS = 'fp32,int4:matmulnbits,int4:dequantize-at-load,int8:matmulnbits,int8:dequantize-at-load,int8:matmulinteger';

/** One row: 'fp32', or '<int4|int8>:<QuantizedMatMul>' (RTN, symmetric, block 32). */
interface Row {
  label: string;
  bits: number | null;
  mode: QuantizedMatMul;
}

function parseRow(label: string): Row {
  if (label === 'fp32') return { label, bits: null, mode: 'matmulnbits' };
  const [q, mode] = label.split(':') as [string, QuantizedMatMul];
  return { label, bits: Number(q.replace('int', '')), mode };
}

interface Result {
  label: string;
  modelMB: number;
  linearMB: number;
  createMs: number;
  sessionRssMB: number;
  prefillTokS: number;
  decodeTokS: number;
  decodeCpuTokS: number;
}

async function measureRow(row: Row): Promise<Result> {
  const config = syntheticConfig('smollm2-135m', { numLayers: layers });
  const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
  const hook: LinearHook | undefined =
    row.bits === null
      ? undefined
      : async (name, weight, N, K) => {
          const q = await quantizer.quantizeRtn(weight, N, K, { bits: row.bits!, blockSize: 32, symmetric: true, scaleDtype: 'f32', name });
          return {
            kind: 'nbits',
            bits: row.bits!,
            blockSize: 32,
            outFeatures: N,
            inFeatures: K,
            packed: q.packed,
            scales: q.scales as Float32Array,
          };
        };
  const built = await buildOnnxDecoder(syntheticIR(config, 1234), { linear: hook, quantizedMatMul: row.mode });
  const external = built.externalData ? [{ path: built.externalData.location, data: Buffer.concat(built.externalData.chunks) }] : [];
  const modelMB = (built.model.byteLength + (built.externalData?.byteLength ?? 0)) / 1e6;
  // The embedding table is the same fp32 in every row; the rest is what the row changes.
  const embeddingMB = built.tensors.find((t) => t.name === tensorNames.embedding)!.bytes / 1e6;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const lm = await createOnnxCausalLM(config, built.model, external, { device: 'wasm', numThreads: threads });
  const createMs = performance.now() - t0;
  const sessionRssMB = (process.memoryUsage().rss - rss0) / 1e6;
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 3) % config.vocabSize);
  let prefill = Infinity,
    decode = Infinity,
    decodeCpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const s = lm.createState();
    let t = performance.now();
    await lm.forward(s, prompt);
    prefill = Math.min(prefill, performance.now() - t);
    const cpu = process.cpuUsage();
    t = performance.now();
    for (let i = 0; i < decodeSteps; i++) await lm.forward(s, [(i * 31 + 5) % config.vocabSize]);
    decode = Math.min(decode, (performance.now() - t) / decodeSteps);
    const du = process.cpuUsage(cpu);
    decodeCpu = Math.min(decodeCpu, (du.user + du.system) / 1000 / decodeSteps);
    s.dispose();
  }
  await lm.dispose();
  return {
    label: row.label,
    modelMB,
    linearMB: modelMB - embeddingMB,
    createMs,
    sessionRssMB,
    prefillTokS: promptLen / (prefill / 1000),
    decodeTokS: 1000 / decode,
    decodeCpuTokS: 1000 / decodeCpu,
  };
}

const one = arg('row', '');
if (one) {
  // Child mode: measure one row, print it as the last line.
  console.log(JSON.stringify(await measureRow(parseRow(one))));
} else {
  const rows = arg('rows', DEFAULT_ROWS).split(',');
  const self = fileURLToPath(import.meta.url);
  const passOn = Object.keys(DEFAULTS).flatMap((k) => [`--${k}`, arg(k)]);
  console.log(
    `onnxruntime-web wasm EP in Node ${process.version}, ${threads} thread(s); SmolLM2-135M shape, ${layers} layers; ` +
      `prompt ${promptLen} tokens, ${decodeSteps} decode steps, best of ${reps}; RTN symmetric, block 32\n`,
  );
  const table: string[][] = [
    [
      'weights',
      'path',
      'model MB',
      'non-embedding MB',
      'session create s',
      'session RSS MB',
      'prefill tok/s',
      'decode tok/s',
      'decode (cpu) tok/s',
    ],
  ];
  for (const label of rows) {
    const out = execFileSync(process.execPath, [...process.execArgv, self, '--row', label, ...passOn], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Result;
    const [weights, path] = label === 'fp32' ? ['fp32', 'MatMul'] : label.split(':');
    table.push([
      weights!,
      path!,
      r.modelMB.toFixed(0),
      r.linearMB.toFixed(0),
      (r.createMs / 1000).toFixed(1),
      r.sessionRssMB.toFixed(0),
      r.prefillTokS.toFixed(1),
      r.decodeTokS.toFixed(2),
      r.decodeCpuTokS.toFixed(2),
    ]);
    console.error(`  done: ${label}`);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  console.log('\nnon-embedding MB: file bytes minus the fp32 embedding table (the linear layers, norms, RoPE tables).');
  console.log('session RSS MB: growth of the process RSS while onnxruntime creates the session (model copy + folded weights).');
  console.log('The tied classifier reads the fp32 embedding table in every row. Random weights: speed only, never quality.');
}
