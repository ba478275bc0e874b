/**
 * `npm run bench [-- <name> [options]]`: runs one benchmark, or all of them in turn.
 *   runtime          prefill/decode tokens per second on onnxruntime-web in Node (bench/runtime.ts)
 *   runtime-browser  the same in headless Chromium, wasm threads (bench/runtime-browser.ts)
 *   engine           the CPU engine vs onnxruntime-web's wasm EP in Node: fp32/int8/int4 rows, 1 and 2
 *                    threads, SmolLM2-135M and Qwen2.5-0.5B shapes (bench/engine.ts)
 *   engine-browser   the same in headless Chromium and Firefox ESR (--browsers), with wllama's anchor beside it (bench/engine-browser.ts)
 *   quantize         RTN quantization throughput (bench/quantize.ts)
 *   wasm-quant-paths quantized weights on the wasm EP: MatMulNBits vs dequantize-at-load vs
 *                    MatMulInteger, next to fp32 (bench/wasm-quant-paths.ts)
 *   quality          size, perplexity and compression time of each recipe (calibrated ones
 *                    too) on stories260K (bench/quality.ts; also `npm run bench:quality`)
 *   pipeline-browser download, compression, load and decode through the app's workers in
 *                    Chromium, on a 297 MB synthetic model (bench/pipeline-browser.ts)
 *   calibration-browser  calibrated compression (gptq-int4-g32) of the synthetic SmolLM2-135M
 *                    shape with 32 windows of 512 tokens in Chromium: time and peak memory
 *                    (bench/calibration-browser.ts)
 *   large-model-browser  1B parameters in a tab: a TinyLlama-1.1B-shaped bf16 checkpoint (2 shards, real
 *                    tokenizer) hub -> IndexedDB -> int4-g32 -> perplexity and chat before (fp16) and after
 *                    on the CPU engine in Chromium: stage times, peak memory per process and worker, bytes
 *                    stored, decode tok/s (bench/large-model-browser.ts; --shape llama3.2-1b or both)
 *   sha256           SHA-256 MB/s: hash-wasm (the store's hasher) vs the old hand-written one,
 *                    and the chunked store's staged-write path (bench/sha256.ts)
 *   app-load         the built app's size (JS, CSS, wasm, precache) and its load time (bench/app-load.ts)
 *   site-load        an exported demo site: its runtime's size, first visit and cached visit to the model
 *                    opened and to the first token, from a plain static host in Chromium (bench/site-load.ts)
 *   speculative      drafted vs plain greedy decode on the SmolLM2-135M shape, CPU engine in Node: the
 *                    original as its own draft (the overhead) and its int4-g32 copy (bench/speculative.ts)
 * Each benchmark prints a table; none asserts anything about time.
 * On a fresh clone it first builds what the benchmarks read (the demo model and the wasm
 * kernels, as test/global-setup.ts does); a failure prints one line, not a stack.
 */
import { execFileSync } from 'node:child_process';

const benches: Record<string, string> = {
  runtime: './runtime.ts',
  'runtime-browser': './runtime-browser.ts',
  engine: './engine.ts',
  'engine-browser': './engine-browser.ts',
  quantize: './quantize.ts',
  'wasm-quant-paths': './wasm-quant-paths.ts',
  quality: './quality.ts',
  'pipeline-browser': './pipeline-browser.ts',
  'calibration-browser': './calibration-browser.ts',
  'large-model-browser': './large-model-browser.ts',
  sha256: './sha256.ts',
  'app-load': './app-load.ts',
  'site-load': './site-load.ts',
  speculative: './speculative.ts',
};

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}

/** The first line of an error's message: the reader needs what failed, not where. */
function oneLine(e: unknown): string {
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return text.split('\n')[0]!;
}

// The benchmark name comes first; options after it go to the benchmark (it reads process.argv).
const first = process.argv[2];
const which = first && !first.startsWith('--') ? first : 'all';
const selected = which === 'all' ? Object.keys(benches) : [which];
for (const b of selected) {
  if (!benches[b]) fail(`unknown benchmark '${b}'; known: ${Object.keys(benches).join(', ')}, all`);
}

// Each script is a no-op when its outputs are up to date, and prints its own failure.
for (const script of ['fixtures', 'build:wasm']) {
  try {
    execFileSync('npm', ['run', '--silent', script], { stdio: 'inherit' });
  } catch {
    fail(`'npm run ${script}' failed (its output is above); the benchmarks need what it builds`);
  }
}

for (const b of selected) {
  console.log(`\n## bench ${b}`);
  try {
    await import(benches[b]!);
  } catch (e) {
    fail(`${b} failed: ${oneLine(e)} (npx tsx bench/${benches[b]!.slice(2)} shows the stack)`);
  }
}
