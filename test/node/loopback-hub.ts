import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { writeHubFixtures } from '../hub/hub-fixtures.ts';
import { startHubServer, type HubServer } from '../hub/hub-server.ts';
import { STORIES_DIR } from './fixture-paths.ts';

/** The loopback hub of one test file, and the temp folder its repos are served from. */
export interface LoopbackHub extends HubServer {
  readonly root: string;
}

/**
 * Registers the hooks that give a test file its own loopback hub: the fixtures written to a
 * fresh temp root and the server started before the file's tests, faults and counters reset
 * after each test, the server closed and the root removed at the end. Call it at the top of
 * the file; the returned object reads the live server once the hooks have run.
 */
export function useLoopbackHub(): LoopbackHub {
  let root = '';
  let server: HubServer | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shrinkray-hub-'));
    await writeHubFixtures(root, STORIES_DIR); // stories260K too, where `npm run fixtures` made it
    server = await startHubServer({ root });
  });
  afterAll(async () => {
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });
  afterEach(() => server?.reset());

  const live = (): HubServer => {
    if (!server) throw new Error('the loopback hub is started in beforeAll; use it inside hooks and tests');
    return server;
  };
  return {
    get root() {
      return root;
    },
    get url() {
      return live().url;
    },
    get port() {
      return live().port;
    },
    get stats() {
      return live().stats;
    },
    setFaults: (faults) => live().setFaults(faults),
    reset: () => live().reset(),
    close: () => live().close(),
  };
}
