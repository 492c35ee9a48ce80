/**
 * The CDK app: `npm run synth` (offline), `cd infra && npx cdk deploy`. Settings come from
 * context (infra/README.md lists them).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { FinCoreStack } from '../lib/fincore-stack.ts';
import { readSettings } from '../lib/settings.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const app = new App();
new FinCoreStack(app, 'FinCore', {
  description: 'FinCore payment service: API on Fargate, SQS job queue, Lambda worker, RDS PostgreSQL',
  settings: readSettings((key) => app.node.tryGetContext(key)),
  // Built by `cdk deploy` from the Dockerfile at the repository root, for the tasks' amd64 platform.
  apiImage: ecs.ContainerImage.fromAsset(repoRoot, { platform: Platform.LINUX_AMD64 }),
  // Built by `npm run build:lambda` (npm run synth runs it first).
  workerCodeDir: join(repoRoot, 'dist', 'lambda'),
});
