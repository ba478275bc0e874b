import { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * The ids that end generation: every end token a model's files list, each once, in this
 * order: config.json's eos_token_id (one id or a list: Llama 3.2 Instruct lists
 * <|end_of_text|>, <|eom_id|> and <|eot_id|>), generation_config.json's (Llama 3 Instruct names
 * <|eot_id|> only there, Qwen2.5 adds <|endoftext|> there), then tokenizer_config.json's
 * eos_token (<|im_end|> for Qwen3, <end_of_turn> for Gemma 3 it). A chat that ends its turn
 * with any of them stops there, whichever file the publisher put it in.
 */
export interface EndTokenSources {
  config: ModelConfig | null;
  generationConfig: Record<string, unknown> | null;
  /** tokenizer_config.json's eos_token as an id (null when it has none, or the embedding has no row for it). */
  tokenizerEos: number | null;
  /** generation_config.json as messages name it. */
  generationConfigName: string;
}

export function endTokenIds(s: EndTokenSources): number[] {
  const ids = [...(s.config?.eosTokenId ?? []), ...generationEos(s)];
  if (s.tokenizerEos !== null) ids.push(s.tokenizerEos);
  return [...new Set(ids)];
}

/** generation_config.json's eos_token_id, checked like config.json's: token ids the embedding has rows for. */
function generationEos(s: EndTokenSources): number[] {
  const raw = s.generationConfig?.eos_token_id;
  if (raw === undefined || raw === null) return [];
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  const vocab = s.config?.vocabSize ?? Infinity;
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocab) {
      const limit = Number.isFinite(vocab) ? ` below config.json's vocab_size (${vocab})` : '';
      throw new ShrinkrayError(
        'bad_config',
        `${s.generationConfigName}: field 'eos_token_id' must list token ids${limit}, got ${printable(String(JSON.stringify(id)), 40)}`,
      );
    }
  }
  return list as number[];
}
