import { parseArgs } from 'node:util';
import { startHubServer, type FaultTable } from '../test/hub/hub-server.ts';

/**
 * A loopback stand-in for the Hugging Face hub, for local use and manual testing:
 *   npx tsx scripts/hub-server.ts --root <dir> [--port N] [--faults '<json>']
 * serves <dir>/<org>/<name>/<file> at http://127.0.0.1:N/<org>/<name>/resolve/main/<file>
 * and listings at /api/models/<org>/<name>. Faults are a JSON object keyed by
 * '<org>/<name>/<file>' (see FileFault in test/hub/hub-server.ts).
 */
const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    port: { type: 'string', default: '8080' },
    faults: { type: 'string' },
  },
});

if (!values.root) {
  console.error('usage: npx tsx scripts/hub-server.ts --root <dir> [--port N] [--faults <json>]');
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`hub-server: --port must be a port number, got ${values.port}`);
  process.exit(2);
}
const faults = values.faults ? (JSON.parse(values.faults) as FaultTable) : {};
const server = await startHubServer({ root: values.root, port, faults });
console.log(`hub server: ${server.url} serving ${values.root} (Ctrl-C to stop)`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
