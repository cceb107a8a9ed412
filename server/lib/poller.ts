// The loop behind the portal's background workers (the mail outbox, the
// webhook deliveries): a pass now and then while started, another at once
// when nudged, never two at a time, and a stop that waits for the pass in hand.
export abstract class PollingWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  /** Polling is on (start() was called and stop() was not). */
  private polling = false;
  /** stop() was called: a pass finishes what it holds and takes no more. */
  protected stopping = false;

  constructor(
    /** Told of a pass that failed (the next one is scheduled all the same). */
    private readonly onError: (err: Error) => void,
    protected readonly pollMs: number,
  ) {}

  /** One pass: does the due work; resolves to how much was handled. */
  protected abstract pass(): Promise<number>;

  start(): void {
    this.polling = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Ask for a pass soon (a request just queued work). */
  nudge(): void {
    if (!this.polling) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the pass in hand to finish. */
  async stop(): Promise<void> {
    this.polling = false;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => 0);
  }

  /** One pass now (or the one already running); tests call this directly. */
  runOnce(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.polling || this.running) return;
    try {
      await this.runOnce();
    } catch (err) {
      this.onError(err as Error);
    }
    if (this.polling) this.schedule(this.again ? 0 : this.pollMs);
    this.again = false;
  }
}
