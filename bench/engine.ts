/**
 * The CPU engine against onnxruntime-web's wasm EP in Node, the rows of bench/engine-browser.ts:
 * fp32, int8 and int4-g32 on onnxruntime-web, int8 and int4-g32 on the engine, at 1 and 2
 * threads, on synthetic SmolLM2-135M and Qwen2.5-0.5B shapes. Each row runs in a fresh child
 * process (its peak RSS is the row's alone). Node 20 runs the engine's plain-SIMD build (its
 * relaxed SIMD is behind a flag and miscompiled by its baseline tier; see src/node/engine-node.ts).
 * CPU columns divide by this process's CPU time: steadier than wall time on a shared machine.
 * Run: npx tsx bench/engine.ts [--shapes ...] [--rows onnx:fp32,...] [--threads 1,2] [--layers N] [--prompt 128] [--decode 32] [--reps 2] [--idle-wait 300]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTable } from './bench-browser.ts';
import { copyRate, runEngineRow, type EngineRow, type EngineRowResult } from './engine-model.ts';
import { waitForIdle } from './engine-report.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};

const one = arg('row', '');
if (one) {
  // Child: one row, its result and peak RSS as the last line.
  const { createRtnQuantizer } = await import('../src/kernels/quantize/index.ts');
  const { loadQuantizeWasmNode } = await import('../src/node/kernel-wasm-node.ts');
  const { engineModulesNode, nodeThreadSpawner } = await import('../src/node/engine-node.ts');
  const row = JSON.parse(one) as EngineRow;
  const quantizer = await createRtnQuantizer({ wasm: await loadQuantizeWasmNode() });
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const r = await runEngineRow(row, { quantizer, modules: () => engineModulesNode(), spawner: nodeThreadSpawner, cpuMs });
  console.log(JSON.stringify({ ...r, peakRss: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

const shapes = arg('shapes', 'smollm2-135m,qwen2.5-0.5b').split(',');
const rowSpecs = arg('rows', 'onnx:fp32,onnx:int8,onnx:int4-g32,cpu:int8,cpu:int4-g32').split(',');
const threadsList = arg('threads', '1,2').split(',').map(Number);
const idleWait = Number(arg('idle-wait', '300'));
const common = {
  prompt: Number(arg('prompt', '128')),
  decode: Number(arg('decode', '32')),
  reps: Number(arg('reps', '2')),
  ...(arg('layers', '') ? { layers: Number(arg('layers', '')) } : {}),
};

await waitForIdle(idleWait);
const copy = copyRate();
console.log(
  `CPU engine vs onnxruntime-web (wasm EP) in Node ${process.version}; copy rate ${(copy / 1e9).toFixed(2)} GB/s copied; ` +
    `prompt ${common.prompt}, ${common.decode} decode steps, best of ${common.reps}`,
);
const table: string[][] = [
  [
    'shape',
    'engine',
    'recipe',
    'threads',
    'simd',
    'stored MB',
    'MB/token',
    'prefill tok/s',
    'prefill (cpu)',
    'decode tok/s',
    'decode (cpu)',
    'ceiling tok/s',
    'of ceiling',
    'peak RSS MB',
    'engine heap MB',
    'busy before %',
  ],
];
const self = fileURLToPath(import.meta.url);
for (const shape of shapes) {
  for (const spec of rowSpecs) {
    const [engine, recipe] = spec.split(':') as ['cpu' | 'onnx', string];
    for (const threads of threadsList) {
      const busy = await waitForIdle(idleWait);
      const row: EngineRow = { shape: shape as EngineRow['shape'], recipe, engine, threads, ...common };
      const out = execFileSync(process.execPath, [...process.execArgv, self, '--row', JSON.stringify(row)], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      const r = JSON.parse(out.trim().split('\n').pop()!) as EngineRowResult & { peakRss: number };
      const ceiling = copy / r.bytesPerToken;
      table.push([
        shape,
        engine,
        recipe,
        String(r.threads),
        r.simd,
        r.storedMB.toFixed(0),
        (r.bytesPerToken / 1e6).toFixed(1),
        r.prefillTokS.toFixed(1),
        r.prefillCpuTokS!.toFixed(1),
        r.decodeTokS.toFixed(2),
        r.decodeCpuTokS!.toFixed(2),
        ceiling.toFixed(1),
        `${((100 * r.decodeTokS) / ceiling).toFixed(0)}%`,
        (r.peakRss / 1e6).toFixed(0),
        r.engineHeapMB === null ? '-' : r.engineHeapMB.toFixed(0),
        busy.toFixed(0),
      ]);
      console.error(`  ${shape} ${spec} ${threads} thread(s): decode ${r.decodeTokS.toFixed(1)} tok/s (busy before ${busy.toFixed(0)}%)`);
    }
  }
}
printTable(table);
console.log(
  '\nceiling = copy rate / MB per token (every weight a decode step reads, streamed once at the rate this process copies memory).',
);
console.log(
  'peak RSS: the child process that ran the row (its synthetic model is built in memory first). Random weights: speed only, never quality.',
);
