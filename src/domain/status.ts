/**
 * The state machines of charges and refunds: one table per object naming every allowed move and
 * who may make it. Everything the tables do not name is refused. The statuses are the tables'
 * keys; the API schemas' `status` enums, the SQL CHECKs on payments.status / refunds.status and
 * the SQL transition guards (status_move_allowed(), src/db/functions/) derive from them or are
 * compared with them by test/lists-agree.test.ts.
 *
 * Who may move an object (the evidence a move needs):
 * - 'psp':      the PSP's own word: its webhook, its answer to FinCore's call, or what a query of
 *               it returns. Only the PSP can say money moved, or that it did not after all.
 * - 'operator': an operator resolving a review item (POST /v1/admin/reviews/{id}/resolve).
 * - 'merchant': the merchant canceling a refund no PSP call has been started for
 *               (POST /v1/refunds/{id}/cancel, flows/cancel-refund.ts). The flow, not this table,
 *               decides whether the PSP may have seen it; the table only says from where.
 *
 * `requires_review` is where a PSP report FinCore cannot apply safely puts the object (see
 * src/domain/psp-report.ts): a contradiction is never guessed away. It is left only by an
 * operator's decision (to the PSP's word, to FinCore's, or back to pending to ask the PSP again). A refund's late failure (`succeeded -> failed`) is the one move out of a
 * settled status the PSP can make directly: card refunds do fail days after they succeeded.
 */
export type Evidence = 'psp' | 'operator' | 'merchant';

type Machine<S extends string> = { readonly [From in S]: { readonly [To in S]?: readonly Evidence[] } };

function machine<S extends string>(table: Machine<S>): Machine<S> {
  return table;
}

export const CHARGE_TRANSITIONS = machine({
  pending: { succeeded: ['psp'], failed: ['psp'], requires_review: ['psp'] },
  succeeded: { requires_review: ['psp'] },
  failed: { requires_review: ['psp'] },
  requires_review: { pending: ['operator'], succeeded: ['operator'], failed: ['operator'] },
});

export const REFUND_TRANSITIONS = machine({
  pending: { succeeded: ['psp'], failed: ['psp'], requires_review: ['psp'], canceled: ['merchant'] },
  succeeded: { failed: ['psp'], requires_review: ['psp'] },
  failed: { requires_review: ['psp'] },
  requires_review: { pending: ['operator'], succeeded: ['operator'], failed: ['operator'] },
  // Final: the PSP never heard of it (canceled only before any PSP call), so nothing moves it.
  canceled: {},
});

export type ChargeStatus = keyof typeof CHARGE_TRANSITIONS;
export type RefundStatus = keyof typeof REFUND_TRANSITIONS;
export type MoneyMovementStatus = ChargeStatus | RefundStatus;
export type ObjectKind = 'charge' | 'refund';

/** Every status, in the tables' order. */
export const CHARGE_STATUSES = Object.keys(CHARGE_TRANSITIONS) as ChargeStatus[];
export const REFUND_STATUSES = Object.keys(REFUND_TRANSITIONS) as RefundStatus[];
/** Charge and refund statuses together (the admin lists' `status` filter). */
export const MONEY_MOVEMENT_STATUSES = [...new Set<MoneyMovementStatus>([...CHARGE_STATUSES, ...REFUND_STATUSES])];

export const TRANSITIONS: { readonly charge: Machine<ChargeStatus>; readonly refund: Machine<RefundStatus> } = {
  charge: CHARGE_TRANSITIONS,
  refund: REFUND_TRANSITIONS,
};

export function statusesOf(kind: ObjectKind): readonly MoneyMovementStatus[] {
  return kind === 'charge' ? CHARGE_STATUSES : REFUND_STATUSES;
}

/** Whether `evidence` may move an object of `kind` from `from` to `to`. */
export function canMove(kind: ObjectKind, from: MoneyMovementStatus, to: MoneyMovementStatus, evidence: Evidence): boolean {
  const targets = (TRANSITIONS[kind] as Machine<MoneyMovementStatus>)[from];
  return targets?.[to]?.includes(evidence) ?? false;
}

/** Every allowed move, as rows: what the SQL guard must allow, and nothing else. */
export function allowedMoves(kind: ObjectKind): Array<{ from: MoneyMovementStatus; to: MoneyMovementStatus; evidence: Evidence }> {
  return Object.entries(TRANSITIONS[kind] as Machine<MoneyMovementStatus>).flatMap(([from, targets]) =>
    Object.entries(targets as Record<string, readonly Evidence[]>).flatMap(([to, evidence]) =>
      evidence.map((e) => ({ from: from as MoneyMovementStatus, to: to as MoneyMovementStatus, evidence: e })),
    ),
  );
}

/** Settled: the PSP has given its word (or an operator has). Pending is the only unsettled status. */
export function isSettled(status: MoneyMovementStatus): boolean {
  return status !== 'pending';
}
