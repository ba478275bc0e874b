import { Tensor, type TextGenerationPipeline } from '@huggingface/transformers';

/**
 * transformers.js's greedy continuation of a prompt and, from one more pass over prompt +
 * continuation, the logit rows that predicted each of its tokens: what other runtimes are
 * compared with, by logits within a named budget (test/error-budgets.ts). Runtimes with other
 * kernels may break a near-tie the other way, so their token ids are never compared exactly.
 */
export async function transformersJsGreedy(
  generator: TextGenerationPipeline,
  prompt: string,
  maxNewTokens: number,
): Promise<{ promptIds: number[]; continuation: number[]; rows: Float32Array[] }> {
  const inputs = generator.tokenizer(prompt, { add_special_tokens: true });
  const promptIds = Array.from(inputs.input_ids.data as BigInt64Array, Number);
  const out = await generator.model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false });
  const all = Array.from((out as { data: BigInt64Array }).data, Number);
  const continuation = all.slice(promptIds.length);
  // The whole sequence but its last token: row i predicts token i + 1.
  const fed = all.slice(0, -1);
  const input_ids = new Tensor('int64', BigInt64Array.from(fed, BigInt), [1, fed.length]);
  const attention_mask = new Tensor('int64', new BigInt64Array(fed.length).fill(1n), [1, fed.length]);
  const { logits } = (await (generator.model as unknown as (i: object) => Promise<{ logits: Tensor }>)({ input_ids, attention_mask })) as {
    logits: Tensor;
  };
  const [, positions, vocab] = logits.dims as [number, number, number];
  const data = logits.data as Float32Array;
  const rows = [];
  for (let p = promptIds.length - 1; p < positions; p++) rows.push(data.slice(p * vocab, (p + 1) * vocab));
  return { promptIds, continuation, rows };
}
