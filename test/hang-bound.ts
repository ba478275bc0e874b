/**
 * The suite's only time limits, and they are for hangs, not speed (speed lives in the benches):
 * far above any step's time on a loaded 2-core machine, so no test depends on the machine's load.
 * - HANG_MS: a test or hook that runs this long has hung (vitest.config.ts, every project).
 * - PAGE_WAIT_MS: a wait inside an end-to-end test (for a heading, a button, a reply, a poll)
 *   gives up after this long, a minute before the test's bound, so the failure names what it
 *   waited for and what the page showed instead of a bare test timeout.
 * No Vitest import here: vitest.config.ts imports it.
 */
export const HANG_MS = 600_000;
export const PAGE_WAIT_MS = HANG_MS - 60_000;
