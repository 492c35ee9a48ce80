// The admin API's answers as the dashboard reads them: names for the types `npm run openapi`
// generates from the OpenAPI document (openapi/types.ts), nothing restated by hand.
import type { Schemas } from '../../openapi/client.ts';

export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export type Overview = Schemas['Overview'];
export type Stats = Schemas['Stats'];
export type ChargeStatusCounts = Overview['charges'];
export type RefundStatusCounts = Overview['refunds'];
export type Merchant = Schemas['AdminMerchant'];
export type Charge = Schemas['AdminCharge'];
export type Refund = Schemas['AdminRefund'];
export type Status = Charge['status'] | Refund['status'];
export type ChargeDetail = Schemas['ChargeDetail'];
export type LedgerEntry = Schemas['LedgerEntry'];
export type FinCoreEvent = Schemas['Event'];
export type EventCause = FinCoreEvent['cause'];
export type Job = Schemas['Job'];
export type WebhookEndpoint = Schemas['AdminWebhookEndpoint'];
export type Review = Schemas['Review'];
export type ReviewDecision = NonNullable<Review['decision']>;

/** The decisions an operator may take, in the order the form offers them (the schema's enum). */
export const REVIEW_DECISIONS = ['accept_psp', 'keep_fincore'] as const satisfies readonly ReviewDecision[];

/** One PSP call for a charge or refund, as GET /v1/charges/{id}/attempts lists it and the charge detail shows it. */
export type PspAttempt = Schemas['PspAttempt'];
