import type { TensorKey, TensorPlace } from '../worker/client.ts';

/**
 * What the page calls each row of the tensor table. The worker places every tensor
 * (`{ layer, key, linear }`); the page only puts words to it. Typed by the table's keys, so
 * a new row fails to compile until it has a label.
 */
const LABEL: Readonly<Record<TensorKey, string>> = Object.freeze({
  embedding: 'token embedding',
  finalNorm: 'final norm',
  classifier: 'classifier',
  attnNorm: 'input_layernorm',
  q: 'q_proj',
  k: 'k_proj',
  v: 'v_proj',
  qBias: 'q_proj bias',
  kBias: 'k_proj bias',
  vBias: 'v_proj bias',
  qNorm: 'q_norm',
  kNorm: 'k_norm',
  o: 'o_proj',
  attnPostNorm: 'post_attention_layernorm (Gemma)',
  ffnNorm: 'post_attention_layernorm',
  ffnPostNorm: 'post_feedforward_layernorm',
  gate: 'gate_proj',
  up: 'up_proj',
  down: 'down_proj',
});

/** A row's label: 'q' -> 'q_proj', 'embedding' -> 'token embedding'. */
export function tensorLabel(key: TensorKey): string {
  return LABEL[key];
}

/** A tensor in words: 'layer 3, q_proj', 'token embedding'; its own name where the table has no row for it. */
export function describeTensor(t: TensorPlace): string {
  if (t.key === null) return t.name;
  return t.layer === null ? LABEL[t.key] : `layer ${t.layer}, ${LABEL[t.key]}`;
}
