/**
 * The pre-tokenizers that a GGUF file's `tokenizer.ggml.pre` names, written as the
 * tokenizer.json pieces @huggingface/tokenizers runs. llama.cpp (src/llama-vocab.cpp) maps each
 * name to a split regex and a few flags; the names below are those whose Hugging Face form is
 * known exactly because it is the published tokenizer.json the name was fingerprinted from
 * (llama.cpp's converter picks `pre` by hashing what that tokenizer.json outputs):
 * - llama-bpe / llama3 / llama-v3: Llama 3.x. llama.cpp rewrites `(?i:...)` as character
 *   classes for its own regex engine; the published form is kept here. ignore_merges and
 *   add_bos on, clean_up_tokenization_spaces on, as llama.cpp sets them for this name.
 * - qwen2 / deepseek-r1-qwen / megrez: Qwen2, Qwen2.5, Qwen3 (and models built on their
 *   tokenizer): single digits, NFC normalization as the published tokenizer.json has it
 *   (llama.cpp itself does not normalize; on NFC text the two agree).
 * - smollm: SmolLM/SmolLM2: every digit alone, then GPT-2's byte-level split.
 * - gpt-2: GPT-2's byte-level split.
 * - default: llama.cpp's fallback list of four regexes, applied one after another as
 *   isolated splits (what llama.cpp's unicode_regex_split does with a list).
 * Any other name is refused: a different split gives different ids for the same text, so a
 * guess would make the model read text it was never trained on.
 */
export interface GgufPreTokenizer {
  readonly normalizer: Record<string, unknown> | null;
  readonly preTokenizer: Record<string, unknown>;
  /** BPE's ignore_merges: a word that is itself a token is taken whole. */
  readonly ignoreMerges: boolean;
  /** llama.cpp's clean_spaces for this name, which is tokenizer_config's clean_up_tokenization_spaces. */
  readonly cleanSpaces: boolean;
  /** llama.cpp's add_bos for this name when tokenizer.ggml.add_bos_token is absent. */
  readonly addBosDefault: boolean;
}

const LLAMA3_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const GPT2_SPLIT = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const DEFAULT_SPLITS = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_SPLIT, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];

const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
/** Byte-level mapping of each piece already split by the regexes before it. */
const byteLevel = (trimOffsets: boolean, useRegex = false) => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: trimOffsets,
  use_regex: useRegex,
});
const sequence = (pretokenizers: unknown[]) => ({ type: 'Sequence', pretokenizers });

const LLAMA3: GgufPreTokenizer = {
  normalizer: null,
  preTokenizer: sequence([split(LLAMA3_SPLIT), byteLevel(true)]),
  ignoreMerges: true,
  cleanSpaces: true,
  addBosDefault: true,
};
const QWEN2: GgufPreTokenizer = {
  normalizer: { type: 'NFC' },
  preTokenizer: sequence([split(QWEN2_SPLIT), byteLevel(false)]),
  ignoreMerges: false,
  cleanSpaces: false,
  addBosDefault: false,
};

export const GGUF_PRE_TOKENIZERS: Readonly<Record<string, GgufPreTokenizer>> = Object.freeze({
  'llama-bpe': LLAMA3,
  llama3: LLAMA3,
  'llama-v3': LLAMA3,
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
  megrez: { ...QWEN2, cleanSpaces: true }, // llama.cpp leaves clean_spaces on for this name
  smollm: {
    normalizer: null,
    preTokenizer: sequence([{ type: 'Digits', individual_digits: true }, byteLevel(true, true)]),
    ignoreMerges: false,
    cleanSpaces: false,
    addBosDefault: false,
  },
  'gpt-2': { normalizer: null, preTokenizer: byteLevel(true, true), ignoreMerges: false, cleanSpaces: true, addBosDefault: false },
  default: {
    normalizer: null,
    preTokenizer: sequence([...DEFAULT_SPLITS.map(split), byteLevel(true)]),
    ignoreMerges: false,
    cleanSpaces: true,
    addBosDefault: false,
  },
});
