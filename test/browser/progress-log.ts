import type { Progress, ProgressStage } from '../../src/worker/protocol.ts';

/**
 * Progress events as a test sees them. Each comes through its own MessageChannel (a Comlink
 * proxy), so the last ones may land after the call they report on has resolved: a test reads
 * them once the event it expects last has arrived (`until`), never straight after the await.
 */
export class ProgressLog {
  readonly events: Progress[] = [];
  private waiters: { stage: ProgressStage; arrived: () => void }[] = [];
  readonly onProgress = (p: Progress): void => {
    this.events.push(p);
    if (p.done !== p.total) return;
    for (const w of this.waiters.filter((x) => x.stage === p.stage)) w.arrived();
    this.waiters = this.waiters.filter((x) => x.stage !== p.stage);
  };

  /** Resolves once `stage` has reported done === total (its last event), with every event so far. */
  async until(stage: ProgressStage): Promise<Progress[]> {
    if (!this.events.some((p) => p.stage === stage && p.done === p.total))
      await new Promise<void>((arrived) => this.waiters.push({ stage, arrived }));
    return this.events;
  }
}
