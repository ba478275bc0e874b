/** A loose check of 'org/name' before asking the worker (which checks it exactly). */
export function parseRepoIdSafe(text: string): string | null {
  const t = text.trim();
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(t) ? t : null;
}
