/**
 * How much a model's own code may cost. tokenizer.json carries regular expressions (the
 * normalizer's and pre-tokenizer's patterns) and tokenizer_config.json a Jinja chat template:
 * both run on our thread, written by whoever made the model. The template is interpreted,
 * so it is stopped from inside (steps, time, sizes). A regular expression cannot be
 * interrupted on its own thread, so tokenizer calls are timed from another one: the page's
 * chat client terminates and restarts the chat worker (src/worker/tokenizer-watchdog.ts),
 * the CLI runs its tokenizer in a worker thread (src/node/guarded-tokenizer.ts).
 * Each figure sits far above what a real model needs.
 */
export const TOKENIZER_BUDGET = Object.freeze({
  /** Characters one encode() call takes: a pasted prompt, or one document of an evaluation text. */
  encodeChars: 16 * 1024 * 1024,
  /** Wall time of one tokenizer call (encode or decode) before it counts as hung: real tokenizers encode over 1 MB/s. */
  callMs: 10_000,
  /** Characters of a chat template's source (real ones are under 20 K). */
  templateChars: 256 * 1024,
  /** Nodes one rendering may evaluate (a 100-message chat with a tool-calling template takes about 50 K). */
  templateSteps: 2_000_000,
  /** Wall time of one rendering. */
  templateMs: 2_000,
  /** Characters of any string a rendering builds, its result included. */
  renderedChars: 4 * 1024 * 1024,
  /** Items of any list a rendering builds (range() included). */
  listItems: 100_000,
});
