import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compressModel } from '../compress/pipeline.ts';
import { planCompression } from '../compress/plan.ts';
import { parseRecipe, type Recipe } from '../compress/recipe.ts';
import { compressionReport } from '../compress/report.ts';
import { keptBlockFields } from '../compress/drop/drop-blocks.ts';
import { ShrinkrayError } from '../errors.ts';
import { CARRIED_FILES } from '../formats/model-folder-layout.ts';
import { transformersJsFolder } from '../formats/transformers-js-folder.ts';
import { createPruner, type Pruner } from '../kernels/prune/index.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../kernels/quantize/index.ts';
import { toHfConfig } from '../model/hf-config.ts';
import { loadPruneWasmNode, loadQuantizeWasmNode } from '../node/kernel-wasm-node.ts';
import { loadModelFolder } from '../node/model-folder.ts';
import { MAX_JSON_BYTES } from '../formats/json-file.ts';
import { fsError, readUserFile } from '../node/fs-errors.ts';
import { openOutputFolder } from '../node/output-folder.ts';
import { requireOption, requirePositional, type ParsedArgs } from './args.ts';
import { TextTokenizer } from '../runtime/tokenizer.ts';
import { cliCalibration } from './calibration.ts';
import { noteUnusedTensors } from './notes.ts';

/** The WASM SIMD quantizer when its build is present, else the scalar reference (bit-identical). */
async function nodeQuantizer(recipe: Recipe): Promise<RtnQuantizer> {
  if (!recipe.quant && !recipe.embedQuant) return createRtnQuantizer({ prefer: 'reference' });
  const wasm = await loadQuantizeWasmNode().catch(() => undefined);
  return createRtnQuantizer(wasm ? { wasm } : { prefer: 'reference' });
}

/** The WASM SIMD pruning kernel when the recipe masks and its build is present, else the reference (bit-identical). */
async function nodePruner(recipe: Recipe): Promise<Pruner> {
  const wasm = recipe.mask ? await loadPruneWasmNode().catch(() => undefined) : undefined;
  return createPruner(wasm ? { wasm } : {});
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

async function writeChunks(path: string, content: Uint8Array | Uint8Array[]): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    const file = await open(path, 'w');
    try {
      for (const chunk of Array.isArray(content) ? content : [content]) await file.write(chunk);
    } finally {
      await file.close();
    }
  } catch (e) {
    throw fsError(e, path, 'writing');
  }
}

/**
 * `shrinkray compress <modelDir> --recipe <recipe> --out <dir> [--calib <textfile>] [--calib-windows N]
 * [--calib-seed S] [--ops plain|fused] [--external-data-threshold BYTES] [--force]`: writes a
 * transformers.js-ready folder. The last stdout line is JSON: {"recipe","bytesIn","bytesOut","seconds"}.
 * Calibrated recipes read --calib (default: the built-in English sample; see calibration.ts).
 */
export async function runCompress(args: ParsedArgs): Promise<void> {
  const src = requirePositional(args, 0, 'the model folder: shrinkray compress <modelDir> --recipe <name> --out <dir>');
  // Grammar errors are 'bad_recipe' before any file is read; the model-specific checks
  // (planCompression) run once the config is known, still before any weight is touched.
  const recipe = parseRecipe(requireOption(args, 'recipe'));
  const out = requireOption(args, 'out');
  const ops = args.options.get('ops') ?? 'plain';
  if (ops !== 'plain' && ops !== 'fused') throw new ShrinkrayError('bad_argument', `--ops must be 'plain' or 'fused', got '${ops}'`);
  const rawThreshold = args.options.get('external-data-threshold');
  const threshold = rawThreshold === undefined ? undefined : Number(rawThreshold);
  if (threshold !== undefined && !(Number.isInteger(threshold) && threshold >= 0)) {
    throw new ShrinkrayError('bad_argument', `--external-data-threshold must be a byte count >= 0, got '${rawThreshold}'`);
  }

  const output = await openOutputFolder(out, { sources: [src], force: args.flags.has('force') });
  try {
    await compressInto(src, { dir: output.dir, shown: out }, recipe, ops, threshold, args);
    await output.commit();
  } finally {
    await output.abandon();
  }
}

/** The compression itself, written into `out.dir` (the temporary folder); `out.shown` is the --out the user gave. */
async function compressInto(
  src: string,
  out: { dir: string; shown: string },
  recipe: Recipe,
  ops: 'plain' | 'fused',
  threshold: number | undefined,
  args: ParsedArgs,
): Promise<void> {
  const started = performance.now();
  const folder = await loadModelFolder(src);
  noteUnusedTensors(src, folder.unusedTensors);
  const bytesIn = folder.weightBytes;
  const plan = planCompression(recipe, folder.ir.config, { calibrationText: args.options.has('calib') });
  const calibration = plan.calibrate
    ? await cliCalibration(args, folder.ir.config, new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config))
    : null;
  if (!plan.calibrate && args.options.has('calib'))
    process.stderr.write(`note: ${recipe.canonical} uses no calibration; --calib is ignored\n`);
  const quantizer = await nodeQuantizer(recipe);
  const result = await compressModel(folder.ir, plan, {
    quantizer,
    pruner: await nodePruner(recipe),
    ops,
    externalDataThreshold: threshold,
    calibration: calibration?.input,
  }).finally(() => calibration?.close());
  const compressSeconds = (performance.now() - started) / 1000;
  const built = result.built;

  const bytesOut = built.model.byteLength + (built.externalData?.byteLength ?? 0);
  const carried = new Map<string, Uint8Array>();
  for (const name of CARRIED_FILES) {
    if (await sizeOf(join(src, name)))
      carried.set(name, new Uint8Array(await readUserFile(join(src, name), 'the carried file', MAX_JSON_BYTES)));
  }
  const files = transformersJsFolder({
    // The source's config.json, with the fields structured pruning may have changed.
    configJson: { ...folder.configJson, ...toHfConfig(result.config), ...keptBlockFields(folder.configJson, result.layerRemoval) },
    generationConfig: folder.generationConfig ?? {
      bos_token_id: folder.ir.config.bosTokenId,
      eos_token_id: folder.ir.config.eosTokenId.length === 1 ? folder.ir.config.eosTokenId[0] : folder.ir.config.eosTokenId,
    },
    carried,
    model: built,
    report: compressionReport({
      result,
      recipeText: recipe.name,
      from: src,
      bytesIn,
      ops,
      quantizer: quantizer.backend,
      pruner: result.pruner,
      seconds: (performance.now() - started) / 1000,
      compressSeconds,
      calibrationText: calibration?.text,
    }),
  });
  for (const [path, content] of files) await writeChunks(join(out.dir, ...path.split('/')), content);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `compressed ${src} -> ${out.shown} (${recipe.canonical}): ${bytesIn.toLocaleString('en-US')} -> ${bytesOut.toLocaleString('en-US')} bytes\n`,
  );
  process.stdout.write(`${JSON.stringify({ recipe: recipe.name, bytesIn, bytesOut, seconds })}\n`);
}
