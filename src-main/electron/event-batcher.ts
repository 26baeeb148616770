/**
 * The events main itself sends the renderer over IPC (its fallback path: crash notices, and
 * engine events from before an event port was connected) go in batches, at most one IPC message
 * per `intervalMs`, with `job.progress` coalesced per job (latest wins) unless it carries state
 * the UI keeps. Job events normally skip main and stream on the engine's event port
 * (event-stream.ts), throttled in the engine.
 */
import type { ServiceEvent } from '../contract.js';
// Training progress the UI keeps (curves, checkpoints) is never coalesced: one rule, shared.
import { coalescable } from '../transports/shared.js';

export class EventBatcher {
  private queue: ServiceEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (batch: ServiceEvent[]) => void,
    private readonly intervalMs = 50,
  ) {}

  push(e: ServiceEvent): void {
    if (coalescable(e)) {
      // Replace the job's queued progress in place, keeping its order relative to other events.
      const i = this.queue.findIndex((q) => coalescable(q) && q.jobId === e.jobId);
      if (i >= 0) {
        this.queue[i] = e;
        return;
      }
    }
    this.queue.push(e);
    // Failures and restarts go out at once: the UI must not show a dead job as running.
    if (e.type === 'job.failed' || e.type === 'engine.restarted') this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.send(batch);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }
}
