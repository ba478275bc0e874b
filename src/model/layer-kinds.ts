import type { ModelConfig } from './config.ts';

/**
 * Which attention each decoder layer runs, where the config makes layers differ (Gemma 3's
 * sliding and full layers) or scales attention its own way (query_pre_attn_scalar): every runner
 * asks here, so they cannot disagree on which layer takes which window and RoPE.
 */

/** The factor attention scores are multiplied by: query_pre_attn_scalar^-0.5 (Gemma), else head_dim^-0.5. */
export function attentionScale(c: Pick<ModelConfig, 'headDim' | 'queryPreAttnScalar'>): number {
  return 1 / Math.sqrt(c.queryPreAttnScalar ?? c.headDim);
}

/** Whether decoder layer `l` is one of Gemma 3's sliding_attention layers (its own window and RoPE base). */
export function isSlidingLayer(c: Pick<ModelConfig, 'slidingLayers'>, l: number): boolean {
  return c.slidingLayers !== undefined && c.slidingLayers.includes(l);
}

/** The sliding window of decoder layer `l`: the config's on every layer, or (Gemma 3) on its sliding_attention layers only. */
export function layerWindow(c: Pick<ModelConfig, 'slidingWindow' | 'slidingLayers'>, l: number): number | undefined {
  return c.slidingLayers === undefined || c.slidingLayers.includes(l) ? c.slidingWindow : undefined;
}

/**
 * The RoPE fields decoder layer `l` turns with: the config's own, or for Gemma 3's sliding_attention
 * layers rope_local_base_freq with plain RoPE (transformers' rotary_emb_local). Every RoPE table is
 * built from a config this returns, so the runners cannot disagree on which layer takes which.
 */
export function layerRopeConfig(c: ModelConfig, l: number): ModelConfig {
  if (!isSlidingLayer(c, l) || c.ropeLocalTheta === undefined) return c;
  const { ropeScaling: _global, ...local } = c;
  return { ...local, ropeTheta: c.ropeLocalTheta };
}

/**
 * GroupQueryAttention's local_window_size for the config's sliding window, -1 for none. In
 * onnxruntime-web 1.30 a query sees local_window_size keys, itself included: transformers' W
 * (test/node/architectures.test.ts checks it against the independent forward, where W - 1
 * misses it by about a tenth of the largest logit).
 */
export function gqaLocalWindow(c: ModelConfig, l: number): number {
  return layerWindow(c, l) ?? -1;
}
