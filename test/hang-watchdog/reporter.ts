import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { ReportedHookContext, Reporter, TestCase, TestModule, Vitest } from 'vitest/node';
import { HANG_MS } from '../hang-bound.ts';

/**
 * A reporter that ends a run stuck where Vitest's own time limits cannot reach it. Every test and
 * hook is bounded by HANG_MS, but the bound is a timer in the file's own process or page: a
 * synchronous wait in a Node worker (a child process run with execFileSync that never ends) or a
 * page whose main thread never yields leaves the timer unfired, and Vitest waits for that file
 * forever (a CI run once ended at its 90-minute limit with nothing printed after the last file).
 *
 * A file that has reported nothing (no file, test or hook event) for QUIET_MS, longer than any
 * bounded step can be, is named with the last thing it started; then every process below this
 * one is killed and the run exits 1, so the report is the last thing printed.
 * SHRINKRAY_HANG_WATCH_MS sets QUIET_MS (the watchdog's own test uses seconds).
 */
const QUIET_MS = Number(process.env.SHRINKRAY_HANG_WATCH_MS) || HANG_MS + 120_000;
const CHECK_MS = Math.min(10_000, QUIET_MS / 4);

interface Running {
  since: number; // the last event's time
  last: string; // what that event was
}

export default class HangWatchdog implements Reporter {
  private readonly running = new Map<string, Running>();
  private root = process.cwd();
  private timer: ReturnType<typeof setInterval> | undefined;

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
  }

  onTestRunStart(): void {
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
  }

  onTestModuleQueued(module: TestModule): void {
    this.touch(module, 'its import (no test started yet)');
  }

  onTestModuleCollected(module: TestModule): void {
    this.touch(module, 'collected; no test started yet');
  }

  onTestModuleEnd(module: TestModule): void {
    this.running.delete(this.key(module));
  }

  onTestCaseReady(test: TestCase): void {
    this.touch(test.module, `test "${test.fullName}" started`);
  }

  onTestCaseResult(test: TestCase): void {
    this.touch(test.module, `test "${test.fullName}" ended (${test.result().state})`);
  }

  onHookStart(hook: ReportedHookContext): void {
    this.hook(hook, 'started');
  }

  onHookEnd(hook: ReportedHookContext): void {
    this.hook(hook, 'ended');
  }

  private hook({ name, entity }: ReportedHookContext, what: string): void {
    const module = entity.type === 'module' ? entity : entity.module;
    this.touch(module, `${name} hook${entity.type === 'module' ? '' : ` of "${entity.fullName}"`} ${what}`);
  }

  private key(module: TestModule): string {
    const path = relative(this.root, module.moduleId);
    return module.project.name ? `${path} (${module.project.name})` : path;
  }

  private touch(module: TestModule, last: string): void {
    this.running.set(this.key(module), { since: Date.now(), last });
  }

  private check(): void {
    const now = Date.now();
    const stuck = [...this.running].filter(([, r]) => now - r.since > QUIET_MS);
    if (stuck.length === 0) return;
    const lines = [
      '',
      `hang watchdog: no word for ${Math.round(QUIET_MS / 1000)} s from a test file whose every step is bounded at ${HANG_MS / 1000} s:`,
    ];
    for (const [key, r] of stuck) lines.push(`  ${key}: last ${r.last}, ${Math.round((now - r.since) / 1000)} s ago`);
    lines.push('  (its process or page is stuck where no timer runs: a synchronous wait, a page that never yields)');
    const others = [...this.running].filter(([, r]) => now - r.since <= QUIET_MS).map(([key]) => key);
    if (others.length > 0) lines.push(`  still running, not stuck: ${others.join(', ')}`);
    lines.push('  the run is ended: every process below Vitest is killed, and it exits 1', '');
    process.stderr.write(lines.join('\n'));
    killDescendants(process.pid);
    process.exit(1);
  }
}

/** SIGKILL to every process below `pid` (Linux /proc; elsewhere nothing), deepest first. */
function killDescendants(pid: number): void {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return;
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone already
    }
  }
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      walk(c);
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  walk(pid);
}
