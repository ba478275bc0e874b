// The compressed model the library tests load (test/node/library-*.test.ts, test/browser/library-api.test.ts):
// stories260K compressed int4-g32 by the CLI, with a chat template beside it, and the greedy ids and text the
// CLI's own runner gives for the prompts below. No Node imports: the browser test names these too.

/** Where the loopback hub serves it (test/hub/hub-worker-fixtures.ts writes it). */
export const LIBRARY_REPO = 'test-org/stories260K-int4-library';
/** The expectations, beside it (not inside: the folder holds only the model). */
export const LIBRARY_EXPECTED_REPO = 'test-org/stories260K-int4-library-expected';
export const LIBRARY_EXPECTED_FILE = 'greedy.json';
/** The template test/hub/hub-fixtures.ts gives the stories model: BOS, then the messages' text. */
export const LIBRARY_CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
export const LIBRARY_PROMPT = 'Lily wanted to find her cat';
export const LIBRARY_MAX_TOKENS = 40;

/** What `shrinkray generate` gives: with the chat template (--chat auto) and as a plain completion (--chat off). */
export interface LibraryExpected {
  chat: { text: string; ids: number[] };
  completion: { text: string; ids: number[] };
  /** The plain completion on onnxruntime-web (--engine onnx): its numerics differ from the CPU engine's. */
  onnxCompletion: { text: string; ids: number[] };
}
