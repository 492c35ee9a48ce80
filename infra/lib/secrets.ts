import { SecretValue } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The application's secrets. Values never appear in the template: the generated ones are made by
 * Secrets Manager, and the PSP credentials are filled in by the operator after the first deploy.
 */
export class FinCoreSecrets extends Construct {
  /** JSON `{"admin_key": ...}`: FINCORE_ADMIN_KEY. */
  readonly adminKey: secretsmanager.Secret;
  /** JSON `{"psp_webhook_secret": ...}`: FINCORE_PSP_WEBHOOK_SECRET. */
  readonly pspWebhookSecret: secretsmanager.Secret;
  /** JSON `{"STRIPE_SECRET_KEY": ..., "STRIPE_WEBHOOK_SECRET": ...}`, set by the operator. */
  readonly pspCredentials: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Two secrets, not one with two fields: Secrets Manager generates exactly one field per secret.
    this.adminKey = generated(this, 'AdminKey', 'FinCore admin API key (admin_key)', 'admin_key');
    this.pspWebhookSecret = generated(this, 'PspWebhookSecret', 'FinCore PSP webhook HMAC secret (psp_webhook_secret)', 'psp_webhook_secret');
    this.pspCredentials = new secretsmanager.Secret(this, 'PspCredentials', {
      description: 'FinCore PSP credentials: put the real STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET here after the first deploy',
      // Empty placeholders, not secrets. CloudFormation writes them only when this resource is
      // created, so the operator's values survive later deploys. Empty (not a dummy key) so that
      // an unconfigured PSP is refused at start instead of failing charges at the provider.
      secretObjectValue: {
        STRIPE_SECRET_KEY: SecretValue.unsafePlainText(''),
        STRIPE_WEBHOOK_SECRET: SecretValue.unsafePlainText(''),
      },
    });
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
