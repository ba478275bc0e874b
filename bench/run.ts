/**
 * `npm run bench [-- <name> [options]]`: runs one benchmark, or all of them in turn.
 *   runtime          prefill/decode tokens per second on onnxruntime-web in Node (bench/runtime.ts)
 *   runtime-browser  the same in headless Chromium, wasm threads (bench/runtime-browser.ts)
 *   quantize         RTN quantization throughput (bench/quantize.ts)
 *   wasm-quant-paths quantized weights on the wasm EP: MatMulNBits vs dequantize-at-load vs
 *                    MatMulInteger, next to fp32 (bench/wasm-quant-paths.ts)
 *   quality          size and perplexity of each recipe on stories260K (bench/quality.ts)
 *   app-load         the built app's size (JS, CSS, wasm, precache) and its load time (bench/app-load.ts)
 * Each benchmark prints a table; none asserts anything about time.
 */
const benches: Record<string, string> = {
  runtime: './runtime.ts',
  'runtime-browser': './runtime-browser.ts',
  quantize: './quantize.ts',
  'wasm-quant-paths': './wasm-quant-paths.ts',
  quality: './quality.ts',
  'app-load': './app-load.ts',
};

// The benchmark name comes first; options after it go to the benchmark (it reads process.argv).
const first = process.argv[2];
const which = first && !first.startsWith('--') ? first : 'all';
const selected = which === 'all' ? Object.keys(benches) : [which];
for (const b of selected) {
  const path = benches[b];
  if (!path) {
    console.error(`bench: unknown benchmark '${b}'; known: ${Object.keys(benches).join(', ')}, all`);
    process.exit(2);
  }
  console.log(`\n## bench ${b}`);
  await import(path);
}

export {};
