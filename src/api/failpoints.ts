/**
 * Failpoints: named places where a test can make the API process die on the spot, to prove what
 * a crash exactly there leaves behind. Armed only through FINCORE_FAILPOINTS (never in
 * production); an unarmed failpoint costs one Set lookup.
 */
export const FAILPOINTS = ['charge.after_commit', 'refund.after_commit'] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export function isFailpoint(name: string): name is Failpoint {
  return (FAILPOINTS as readonly string[]).includes(name);
}

export class Failpoints {
  constructor(private readonly armed: ReadonlySet<Failpoint> = new Set()) {}

  /** SIGKILL, not exit(): no handler, no flush, no response — as a power cut would leave it. */
  hit(name: Failpoint): void {
    if (this.armed.has(name)) process.kill(process.pid, 'SIGKILL');
  }
}
