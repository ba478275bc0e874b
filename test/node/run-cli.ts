// Runs the CLI in-process, capturing what it writes, for the CLI tests.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    stderr += `${args.join(' ')}\n`;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The JSON object on the last line of stdout, and the text before it. */
export function splitOutput(stdout: string): { text: string; json: Record<string, unknown> } {
  const lines = stdout.replace(/\n$/, '').split('\n');
  const json = JSON.parse(lines.pop()!) as Record<string, unknown>;
  return { text: lines.join('\n'), json };
}

/** Runs `body` with the environment variables `vars` set (the CLI runs in this process), then puts them back. */
export async function withEnv<T>(vars: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
