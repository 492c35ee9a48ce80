import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { FinCoreSettings } from './settings.ts';

/**
 * The application's secrets. Values never appear in the template: the generated ones are made by
 * Secrets Manager, and the PSP credentials are a secret the operator created with real values
 * before the deploy (context pspCredentialsSecretArn). The stack never seeds PSP credentials: an
 * empty STRIPE_WEBHOOK_SECRET placeholder once meant the public development secret in production.
 */
export class FinCoreSecrets extends Construct {
  /** JSON `{"admin_key": ...}`: FINCORE_ADMIN_KEY. */
  readonly adminKey: secretsmanager.Secret;
  /** JSON `{"psp_webhook_secret": ...}`: FINCORE_PSP_WEBHOOK_SECRET. */
  readonly pspWebhookSecret: secretsmanager.Secret;
  /** JSON `{"STRIPE_SECRET_KEY": ..., "STRIPE_WEBHOOK_SECRET": ...}`, the operator's; none with psp=simulator. */
  readonly pspCredentials: secretsmanager.ISecret | undefined;

  constructor(scope: Construct, id: string, settings: FinCoreSettings) {
    super(scope, id);
    // Two secrets, not one with two fields: Secrets Manager generates exactly one field per secret.
    this.adminKey = generated(this, 'AdminKey', 'FinCore admin API key (admin_key)', 'admin_key');
    this.pspWebhookSecret = generated(this, 'PspWebhookSecret', 'FinCore PSP webhook HMAC secret (psp_webhook_secret)', 'psp_webhook_secret');
    this.pspCredentials = settings.pspCredentialsSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'PspCredentials', settings.pspCredentialsSecretArn)
      : undefined;
  }
}

function generated(scope: Construct, id: string, description: string, field: string): secretsmanager.Secret {
  return new secretsmanager.Secret(scope, id, {
    description,
    generateSecretString: {
      secretStringTemplate: '{}',
      generateStringKey: field,
      passwordLength: 48,
      // Sent in HTTP headers and used as HMAC keys: letters and digits avoid any quoting trouble.
      excludePunctuation: true,
    },
  });
}
