import { execFileSync } from 'node:child_process';
import { it } from 'vitest';

// test/node/hang-watchdog.test.ts runs this file: a test that blocks its worker in a child process
// run synchronously, where no test timeout can fire. The child's pid is printed first, to be
// looked for afterwards.
it('waits a little, so the file has reported its first test', async () => {
  await new Promise((ok) => setTimeout(ok, 300));
});

it('sleeps in a synchronous child process', () => {
  execFileSync('sh', ['-c', 'echo "child $$" >&2; exec sleep 600'], { stdio: ['ignore', 'inherit', 'inherit'] });
});
