import { layerHasRope, type ModelConfig } from './config.ts';
import { isSlidingLayer, layerRopeConfig } from './layer-kinds.ts';
import { ropeTableFor, swiglu, type RopeTable } from './reference-ops.ts';

/**
 * The reference ops a decoder layer picks by its config: which RoPE table it turns with (none for
 * SmolLM3's NoPE layers, Gemma 3's local one for its sliding layers), SwiGLU or Gemma's GeGLU, and
 * Gemma's embedding scale. The fp32 reference forward and the calibration block runner share them.
 */

/**
 * Each decoder layer's table for positions start..start+T-1: null for a layer without RoPE
 * (SmolLM3's NoPE layers), Gemma 3's local one (rope_local_base_freq, plain RoPE) for its
 * sliding_attention layers, else the config's. Each distinct table is built once.
 */
export function layerRopeTables(c: ModelConfig, start: number, T: number): (layer: number) => RopeTable | null {
  const global = ropeTableFor(c, start, T);
  let local: RopeTable | undefined;
  return (l) => {
    if (!layerHasRope(c, l)) return null;
    if (!isSlidingLayer(c, l) || c.ropeLocalTheta === undefined) return global;
    return (local ??= ropeTableFor(layerRopeConfig(c, l), start, T));
  };
}

/**
 * GeGLU in place (Gemma): gate = gelu_tanh(gate) · up, with GELU's tanh approximation (transformers'
 * gelu_pytorch_tanh): 0.5 g (1 + tanh(sqrt(2/π) (g + 0.044715 g³))), in float64.  Both: [T, ffn]
 */
export function gegluTanh(gate: Float32Array, up: Float32Array): Float32Array {
  const k = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    gate[i] = 0.5 * g * (1 + Math.tanh(k * (g + 0.044715 * g * g * g))) * up[i]!;
  }
  return gate;
}

/** The MLP's gated activation in place: SwiGLU, or GeGLU with tanh GELU for a config whose hiddenAct says so (Gemma). */
export function gatedActivation(c: Pick<ModelConfig, 'hiddenAct'>, gate: Float32Array, up: Float32Array): Float32Array {
  return c.hiddenAct === 'gelu_tanh' ? gegluTanh(gate, up) : swiglu(gate, up);
}

/** x · s in place (Gemma's embedding scale; s = 1 leaves x as it is). */
export function scaleInPlace(x: Float32Array, s: number | undefined): Float32Array {
  if (s !== undefined && s !== 1) for (let i = 0; i < x.length; i++) x[i] = x[i]! * s;
  return x;
}
