import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { JobQueue } from './job-queue.ts';
import type { FinCoreSettings } from './settings.ts';

/** Money stuck in the queue is what these alarms watch: dead-lettered jobs and jobs waiting too long. */
export class JobAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly deadLetters: cloudwatch.Alarm;
  readonly queueAge: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, jobQueue: JobQueue, settings: FinCoreSettings) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'FinCore alarms', enforceSSL: true });
    if (settings.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));

    this.deadLetters = new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription: 'A charge or refund job was dead-lettered: its money movement is waiting for an operator (fincore jobs redrive).',
      metric: jobQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // An idle queue publishes no data points; no data means no dead letters.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.queueAge = new cloudwatch.Alarm(this, 'QueueAge', {
      alarmDescription: `The oldest charge or refund job has waited ${settings.queueAgeAlarmSeconds} s or more: the worker is not keeping up or not running.`,
      metric: jobQueue.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: settings.queueAgeAlarmSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.deadLetters, this.queueAge]) {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
    }
  }
}
