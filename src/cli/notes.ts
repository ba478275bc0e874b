import { printable } from '../formats/printable.ts';

/**
 * Notes on stderr about what a verb left out, so nothing in a model is ignored without a
 * word. stdout keeps its last line for the JSON result.
 */
export function noteUnusedTensors(where: string, names: readonly string[]): void {
  if (names.length === 0) return;
  const shown =
    names
      .slice(0, 5)
      .map((n) => printable(n, 100))
      .join(', ') + (names.length > 5 ? `, ... (${names.length} in all)` : '');
  console.error(
    `note: ${where}: config.json does not use ${names.length === 1 ? 'this tensor' : 'these tensors'}, so nothing reads ${names.length === 1 ? 'it' : 'them'}: ${shown}`,
  );
}
