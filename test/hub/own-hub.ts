import { inject, onTestFinished } from 'vitest';
import { startHubServer } from './hub-server.ts';

/**
 * A loopback hub of the calling test file's own, over the files the e2e set-up wrote
 * (`e2eHubRoot`). For tests that reset the hub's counts or inject faults:
 * the shared hub (`e2eHubUrl`) serves files that run at the same time, and one file's reset or
 * fault table would change what another measures. Called in a test; closed when it ends.
 * Answers the hub's URL.
 */
export async function ownHub(): Promise<string> {
  const hub = await startHubServer({ root: inject('e2eHubRoot'), port: 0 });
  onTestFinished(() => hub.close());
  return hub.url;
}
