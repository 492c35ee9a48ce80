/**
 * Writes that many concurrent jobs make, done many per statement or transaction: while one group
 * is being written, the items that arrive meanwhile wait and go in the next (PostgreSQL's group
 * commit, one level up). Under load this turns a commit per item into a commit per group; alone,
 * an item waits one turn of the event loop. A caller's promise settles once its group is written
 * (or failed). The worker uses it to mark jobs done (worker.ts: CompletionBatch) and to record
 * pending answers' PSP references (grouped-psp-references.ts).
 */
export class GroupedWrites<T> {
  private waiting: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private writing = false;

  constructor(private readonly writeGroup: (items: T[]) => Promise<void>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.writing) void this.writeGroups();
    });
  }

  private async writeGroups(): Promise<void> {
    this.writing = true;
    // Let the items arriving in this turn of the event loop join the first group.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      try {
        await this.writeGroup(group.map((entry) => entry.item));
        for (const entry of group) entry.resolve();
      } catch (error) {
        for (const entry of group) entry.reject(error);
      }
    }
    this.writing = false;
  }
}
