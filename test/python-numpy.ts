import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
let interpreter: Promise<string> | undefined;

/**
 * The python3 that has numpy, for the independent implementations and writers the tests run
 * (test/independent/, test/gguf/, the wllama anchor's GGUF writer): python3 from PATH when it
 * has numpy, else Debian's /usr/bin/python3 (scripts/test.sh installs python3-numpy there
 * when neither has it).
 */
export function pythonWithNumpy(): Promise<string> {
  interpreter ??= run('python3', ['-c', 'import numpy']).then(
    () => 'python3',
    () => '/usr/bin/python3',
  );
  return interpreter;
}
