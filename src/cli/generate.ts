import { numberOption, requirePositional, usageError, type ParsedArgs } from './args.ts';
import { ShrinkrayError } from '../errors.ts';
import { loadEngine, type LoadedEngine } from '../node/load-engine.ts';
import { folderOpener } from '../node/folder-opener.ts';
import { checkDraftFits } from '../runtime/draft-check.ts';
import { DEFAULT_DRAFT_TOKENS, draftedFigures, generateDrafted, type DraftedOptions } from '../runtime/speculative.ts';
import { engineOptions, engineSummary } from './engine-options.ts';
import { generate } from '../runtime/generate.ts';
import { TextStreamDecoder } from '../runtime/text-stream-decoder.ts';
import type { ModelTokenizer } from '../runtime/tokenizer.ts';

/**
 * The prompt's ids: BOS + the text, or the chat template's rendering when the model has one
 * and --chat is not 'off'. An empty prompt is just BOS: generation from scratch.
 */
function promptIds(tokenizer: ModelTokenizer, prompt: string, chat: string): number[] {
  if (chat !== 'auto' && chat !== 'on' && chat !== 'off') {
    throw usageError(`--chat must be auto, on or off, got '${chat}'`);
  }
  if (chat === 'on' && !tokenizer.hasChatTemplate) {
    throw new ShrinkrayError('bad_argument', '--chat on: tokenizer_config.json has no chat_template');
  }
  if (prompt !== '' && tokenizer.hasChatTemplate && chat !== 'off') {
    return tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]), { addBos: false });
  }
  const ids = tokenizer.encode(prompt, { addBos: true });
  if (ids.length === 0) throw new ShrinkrayError('bad_argument', 'an empty prompt needs a model with a BOS token');
  return ids;
}

/**
 * `shrinkray generate <dir> --prompt <text> [--max-new-tokens N] [--temperature T]
 *  [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S] [--chat auto|on|off] [--engine cpu|onnx|reference] [--threads N]
 *  [--draft <compressedDir> [--draft-tokens k]]`
 * Streams the continuation to stdout, then one JSON line with the figures. Temperature
 * defaults to 0 (greedy), so a plain call is deterministic. With --draft, the compressed model
 * drafts k tokens a round for <dir> to verify (src/runtime/speculative.ts): the same greedy text (sampling: the same distribution),
 * and the line adds the acceptance rate and <dir>'s forward passes per generated token.
 */
export async function runGenerate(args: ParsedArgs): Promise<void> {
  const dir = requirePositional(args, 0, 'the model folder: shrinkray generate <dir> --prompt <text>');
  const prompt = args.options.get('prompt') ?? '';
  const draftDir = args.options.get('draft');
  if (draftDir === undefined && args.options.has('draft-tokens')) throw usageError('--draft-tokens needs --draft <compressedDir>');
  const engine = await loadEngine(dir, engineOptions(args));
  let draft: LoadedEngine | undefined;
  try {
    if (draftDir !== undefined) {
      draft = await loadEngine(draftDir, engineOptions(args));
      await checkDraftFits(
        { where: dir, ...folderOpener(dir), config: engine.model.config },
        { where: draftDir, ...folderOpener(draftDir), config: draft.model.config },
      );
    }
    const { model, tokenizer } = engine;
    const ids = promptIds(tokenizer, prompt, args.options.get('chat') ?? 'auto');
    const stream = new TextStreamDecoder(tokenizer, ids);
    const options: DraftedOptions = {
      maxNewTokens: numberOption(args, 'max-new-tokens', 256),
      temperature: numberOption(args, 'temperature', 0),
      topK: numberOption(args, 'top-k', 0),
      topP: numberOption(args, 'top-p', 1),
      repetitionPenalty: numberOption(args, 'repetition-penalty', 1),
      seed: numberOption(args, 'seed', 0),
      stopTokenIds: tokenizer.eosTokenIds,
      onToken: (id) => process.stdout.write(stream.push(id)),
      draftTokens: numberOption(args, 'draft-tokens', DEFAULT_DRAFT_TOKENS),
    };
    const drafted = draft && (await generateDrafted(model, draft.model, ids, options));
    const result = drafted ?? (await generate(model, ids, options));
    process.stdout.write(`${stream.flush()}\n`);
    const decodeSeconds = result.decodeMs / 1000;
    const summary = {
      tokens: result.ids.length,
      // Decode speed: tokens made after the prefill per second (plain: one per forward pass), prefill excluded.
      tokensPerSecond: decodeSeconds > 0 ? result.decodeSteps / decodeSeconds : 0,
      promptTokens: ids.length,
      // Prompt positions per second of the prefill forward pass.
      prefillTokensPerSecond: result.prefillMs > 0 ? ids.length / (result.prefillMs / 1000) : 0,
      prefillMs: result.prefillMs,
      decodeMs: result.decodeMs,
      stoppedBy: result.stoppedBy,
      ...engineSummary(engine),
      ...(drafted
        ? {
            draft: draftDir,
            draftTokens: options.draftTokens,
            ...draftedFigures(drafted),
            originalPasses: drafted.targetPasses,
            draftPasses: drafted.draftPasses,
          }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await draft?.dispose();
    await engine.dispose();
  }
}
