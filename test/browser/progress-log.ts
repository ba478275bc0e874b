import { expect, vi } from 'vitest';
import type { Progress, ProgressStage } from '../../src/worker/protocol.ts';

/**
 * Progress events as a test sees them. Each comes through its own MessageChannel (a Comlink
 * proxy), so the last ones may land after the call they report on has resolved: a test reads
 * them once the event it expects last has arrived (`until`), never straight after the await.
 */
export class ProgressLog {
  readonly events: Progress[] = [];
  readonly onProgress = (p: Progress): void => {
    this.events.push(p);
  };

  /** Waits until `stage` reports done === total (its last event), then returns every event so far. */
  async until(stage: ProgressStage, last: Partial<Progress> = {}): Promise<Progress[]> {
    await vi.waitFor(() => expect(this.events.filter((p) => p.stage === stage && p.done === p.total).at(-1)).toMatchObject(last), {
      timeout: 10_000,
    });
    return this.events;
  }
}
