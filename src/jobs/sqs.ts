/**
 * The SQS side of the `sqs` transport: publishing job messages in batches (body as DESIGN.md §4,
 * `job_type` also as a message attribute), receiving, deleting, and moving messages from the
 * dead-letter queue back (`fincore jobs redrive`). Only the official AWS SDK v3 talks to SQS.
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { encodeJobMessage, type JobMessage } from './message.ts';

/** SendMessageBatch takes at most 10 entries. */
export const SQS_BATCH_LIMIT = 10;

export interface SqsSettings {
  queueUrl: string;
  dlqUrl: string;
  /** An SQS-compatible server (tests, local development); empty: AWS. */
  endpoint: string;
  region: string;
}

export interface PublishResult {
  /** Job ids SQS accepted. */
  sent: string[];
  /** Job ids SQS refused, with its reason; they stay unsent and are tried again. */
  failed: Array<{ jobId: string; reason: string }>;
}

export function sqsClient(settings: Pick<SqsSettings, 'endpoint' | 'region'>): SQSClient {
  return new SQSClient({ region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) });
}

/**
 * A job message as published: the body (DESIGN.md §4) plus how SQS should hold it. delaySeconds:
 * a job due later (at most 900). groupId: SQS fair queues' tenant key (the merchant of a webhook
 * job), so one merchant's backlog does not raise the others' dwell time.
 */
export type PublishableJob = JobMessage & { delaySeconds?: number; groupId?: string };

export class JobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  /**
   * Sends the messages in batches of 10. A batch the SDK could not send at all (network, throttling)
   * throws; entries SQS refused one by one come back in `failed`.
   */
  async publish(messages: PublishableJob[]): Promise<PublishResult> {
    const result: PublishResult = { sent: [], failed: [] };
    for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
      const batch = messages.slice(start, start + SQS_BATCH_LIMIT);
      // Batch entry ids must be unique within the batch and [A-Za-z0-9_-]{1,80}: the job id is.
      const answer = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((message) => ({
            Id: message.job_id,
            MessageBody: encodeJobMessage(message),
            MessageAttributes: { job_type: { DataType: 'String', StringValue: message.job_type } },
            ...(message.delaySeconds ? { DelaySeconds: message.delaySeconds } : {}),
            ...(message.groupId ? { MessageGroupId: message.groupId } : {}),
          })),
        }),
      );
      for (const ok of answer.Successful ?? []) if (ok.Id) result.sent.push(ok.Id);
      for (const refused of answer.Failed ?? []) if (refused.Id) result.failed.push({ jobId: refused.Id, reason: `${refused.Code ?? 'error'}: ${refused.Message ?? ''}`.trim() });
    }
    return result;
  }

  /** Long-polls for up to `max` messages (at most 10), with the receive count attribute. */
  async receive(max: number, waitSeconds: number, visibilityTimeoutSeconds?: number): Promise<Message[]> {
    const answer = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(max, SQS_BATCH_LIMIT),
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
        // ApproximateReceiveCount tells the consumer which attempt this is.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        ...(visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: visibilityTimeoutSeconds }),
      }),
    );
    return answer.Messages ?? [];
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }));
  }
}

/**
 * Moves every message in the dead-letter queue back to the job queue, body and attributes
 * unchanged; each is deleted from the DLQ only after the job queue accepted it (a crash in
 * between leaves a duplicate, which handlers tolerate). Returns how many were moved.
 */
export async function redriveDeadLetters(client: SQSClient, dlqUrl: string, queueUrl: string, limit = 10_000): Promise<number> {
  const dlq = new JobQueue(client, dlqUrl);
  let moved = 0;
  while (moved < limit) {
    const messages = await dlq.receive(SQS_BATCH_LIMIT, 0, 60);
    if (messages.length === 0) break;
    for (const message of messages) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
        }),
      );
      if (message.ReceiptHandle) await dlq.delete(message.ReceiptHandle);
      moved += 1;
    }
  }
  return moved;
}
