import { parseRecipe, type Recipe } from '../compress/recipe.ts';
import { writeCompressedFolder } from '../jobs/write-compressed-folder.ts';
import { createPruner, type Pruner } from '../kernels/prune/index.ts';
import { createRtnQuantizer, type RtnQuantizer } from '../kernels/quantize/index.ts';
import { diskFolderSink } from '../node/disk-folder-sink.ts';
import { folderOpener } from '../node/folder-opener.ts';
import { loadPruneWasmNode, loadQuantizeWasmNode } from '../node/kernel-wasm-node.ts';
import { loadModelFolder } from '../node/model-folder.ts';
import { withOutputFolder } from '../node/output-folder.ts';
import { requireOption, requirePositional, usageError, type ParsedArgs } from './args.ts';
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
  if (ops !== 'plain' && ops !== 'fused') throw usageError(`--ops must be 'plain' or 'fused', got '${ops}'`);
  const rawThreshold = args.options.get('external-data-threshold');
  const threshold = rawThreshold === undefined ? undefined : Number(rawThreshold);
  if (threshold !== undefined && !(Number.isInteger(threshold) && threshold >= 0)) {
    throw usageError(`--external-data-threshold must be a byte count >= 0, got '${rawThreshold}'`);
  }

  await withOutputFolder(out, { sources: [src], force: args.flags.has('force') }, (dir) =>
    compressInto(src, { dir, shown: out }, recipe, ops, threshold, args),
  );
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
  const { bytesOut } = await writeCompressedFolder(
    { ...folder, open: folderOpener(src).open, from: src },
    recipe,
    diskFolderSink(out.dir),
    {
      quantizer: await nodeQuantizer(recipe),
      pruner: await nodePruner(recipe),
      ops,
      externalDataThreshold: threshold,
      calibrationText: args.options.has('calib'),
      prepare: async (plan) => {
        if (!plan.calibrate && args.options.has('calib'))
          process.stderr.write(`note: ${recipe.canonical} uses no calibration; --calib is ignored\n`);
        if (!plan.calibrate) return null;
        return cliCalibration(args, folder.ir.config, folder.tokenizerParts);
      },
    },
  );
  const bytesIn = folder.weightBytes;
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `compressed ${src} -> ${out.shown} (${recipe.canonical}): ${bytesIn.toLocaleString('en-US')} -> ${bytesOut.toLocaleString('en-US')} bytes\n`,
  );
  process.stdout.write(`${JSON.stringify({ recipe: recipe.name, bytesIn, bytesOut, seconds })}\n`);
}
