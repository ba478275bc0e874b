import { ShrinkrayError } from '../errors.ts';
import type { CausalLM } from '../model/causal-lm.ts';

/**
 * A model whose every forward pass is checked for NaN and infinite logits. Weights that hold
 * NaN or Inf (a broken export, an fp16 overflow) otherwise give empty generations (no token
 * is ever "largest") and a perplexity of NaN, which JSON writes as null: both look like
 * results. The scan costs one pass over the logits, small beside the forward pass itself.
 */
export function withFiniteLogits(model: CausalLM, name: string): CausalLM {
  const vocab = model.config.vocabSize;
  return {
    config: model.config,
    createState: () => model.createState(),
    dispose: () => model.dispose(),
    truncate: (state, length) => model.truncate(state, length),
    async forward(state, tokens, signal) {
      const logits = await model.forward(state, tokens, signal);
      for (let i = 0; i < logits.length; i++) {
        const v = logits[i]!;
        if (v - v !== 0) {
          // NaN - NaN and Inf - Inf are NaN; every finite v gives 0.
          const row = Math.floor(i / vocab);
          throw new ShrinkrayError(
            'bad_file',
            `${name}: the model's logits hold ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'} ` +
              `(new token ${row + 1} of ${tokens.length}, vocabulary entry ${i - row * vocab}): its weights are not all finite numbers, ` +
              'or its arithmetic overflowed',
          );
        }
      }
      return logits;
    },
  };
}
