import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs the longest test files first, across every project, so the two lanes of the forks pool and
 * the browser lane end together instead of one long file starting last (longest-processing-time
 * scheduling). A file's expected time is Vitest's own record of its last run on this machine, else
 * test/file-durations.json (a clean clone has no record; `npm run test:durations` rewrites it
 * after a full run), else UNKNOWN_SECONDS. Vitest's default order puts whole projects one after
 * the other by name, which left `node`'s longest files for the end.
 */
const UNKNOWN_SECONDS = 10;

type Durations = Record<string, number>; // "project:path" -> seconds
const committed = JSON.parse(readFileSync(new URL('./file-durations.json', import.meta.url), 'utf8')) as Durations;

/** Vitest's cache key of a file: the project's name and the path from the root. */
export function fileKey(root: string, spec: TestSpecification): string {
  return `${spec.project.name}:${relative(root, spec.moduleId)}`;
}

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => {
      const key = fileKey(root, spec);
      const last = this.ctx.cache.getFileTestResults(key);
      return last ? last.duration / 1000 : (committed[key] ?? UNKNOWN_SECONDS);
    };
    const expected = new Map(files.map((f) => [f, seconds(f)]));
    return [...files].sort(
      (a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || expected.get(b)! - expected.get(a)!,
    );
  }
}
