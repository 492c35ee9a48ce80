/**
 * The CDK app (infra/) as CloudFormation: every resource the design's physical view asks for, and
 * every security property it promises, asserted on the synthesized template.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { FinCoreStack } from '../infra/lib/fincore-stack.ts';
import { readSettings, SettingsError } from '../infra/lib/settings.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
// The feature flags `cdk synth` uses (infra/cdk.json), so the template under test is the deployed one.
const cdkJson = JSON.parse(readFileSync(join(repoRoot, 'infra', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };

const scratch = mkdtempSync(join(tmpdir(), 'fincore-infra-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
// The real worker bundle (dist/lambda) comes from `npm run build:lambda`. The template records
// only the asset's hash, never its content, so a stand-in directory is enough here and keeps
// these tests independent of a build.
const workerCodeDir = join(scratch, 'worker-code');
mkdirSync(workerCodeDir);
writeFileSync(join(workerCodeDir, 'index.mjs'), 'export const handler = async () => ({ batchItemFailures: [] });\n');

// The operator's PSP credentials secret, created before the deploy with real values.
const PSP_CREDENTIALS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fincore/psp-AbC123';

let synthCount = 0;
function synth(context: Record<string, unknown> = {}): { stack: FinCoreStack; template: Template } {
  const app = new App({ context: { ...cdkJson.context, pspCredentialsSecretArn: PSP_CREDENTIALS_ARN, ...context }, outdir: join(scratch, `cdk.out-${synthCount++}`) });
  const stack = new FinCoreStack(app, 'FinCore', {
    settings: readSettings((key) => app.node.tryGetContext(key)),
    // A registry image instead of the Dockerfile asset: staging the repository is slow and the
    // image's origin is the app's choice (infra/bin/fincore.ts), not the stack's.
    apiImage: ecs.ContainerImage.fromRegistry('fincore-api:test'),
    workerCodeDir,
  });
  return { stack, template: Template.fromStack(stack) };
}

// ---- reading the template -------------------------------------------------------------------

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
}

type Json = Record<string, unknown>;

function resources(template: Template, type: string): Map<string, Resource> {
  const all = template.toJSON().Resources as Record<string, Resource>;
  return new Map(Object.entries(all).filter(([, resource]) => resource.Type === type));
}

function resource(template: Template, id: string): Resource {
  const found = (template.toJSON().Resources as Record<string, Resource>)[id];
  assert.ok(found, `no resource ${id}`);
  return found;
}

function only(template: Template, type: string, where: (r: Resource) => boolean = () => true): [string, Resource] {
  const found = [...resources(template, type)].filter(([, r]) => where(r));
  assert.equal(found.length, 1, `expected exactly one ${type}, found ${found.length}`);
  return found[0]!;
}

function ref(id: string): Json {
  return { Ref: id };
}

function getAtt(id: string, attribute: string): Json {
  return { 'Fn::GetAtt': [id, attribute] };
}

/** `{ 'Fn::GetAtt': [id, ...] }` or `{ Ref: id }` -> id. */
function targetId(value: unknown): string {
  // An imported resource is named by its literal ARN.
  if (typeof value === 'string') return value;
  const json = value as Json;
  if (typeof json.Ref === 'string') return json.Ref;
  const att = json['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  throw new Error(`not a reference: ${JSON.stringify(value)}`);
}

function securityGroupId(template: Template, description: string): string {
  return only(template, 'AWS::EC2::SecurityGroup', (r) => r.Properties.GroupDescription === description)[0];
}

function subnetIds(template: Template, subnetName: string): string[] {
  return [...resources(template, 'AWS::EC2::Subnet')]
    .filter(([, r]) => (r.Properties.Tags as { Key: string; Value: string }[]).some((t) => t.Key === 'aws-cdk:subnet-name' && t.Value === subnetName))
    .map(([id]) => id)
    .sort();
}

function routesOfSubnet(template: Template, subnetId: string): Resource[] {
  const [, association] = only(template, 'AWS::EC2::SubnetRouteTableAssociation', (r) => targetId(r.Properties.SubnetId) === subnetId);
  const routeTable = targetId(association.Properties.RouteTableId);
  return [...resources(template, 'AWS::EC2::Route').values()].filter((r) => targetId(r.Properties.RouteTableId) === routeTable);
}

interface IngressRule {
  port: string;
  from: string;
}

/** Every way ingress to a security group can be declared: inline rules and standalone resources. */
function ingressRules(template: Template, groupId: string): IngressRule[] {
  const toRule = (rule: Json): IngressRule => ({
    port: `${String(rule.IpProtocol)}/${String(rule.FromPort)}-${String(rule.ToPort)}`,
    from: rule.SourceSecurityGroupId ? `sg:${targetId(rule.SourceSecurityGroupId)}` : `cidr:${String(rule.CidrIp ?? rule.CidrIpv6)}`,
  });
  const inline = ((resource(template, groupId).Properties.SecurityGroupIngress ?? []) as Json[]).map(toRule);
  const standalone = [...resources(template, 'AWS::EC2::SecurityGroupIngress').values()]
    .filter((r) => targetId(r.Properties.GroupId) === groupId)
    .map((r) => toRule(r.Properties));
  return [...inline, ...standalone].sort((a, b) => a.from.localeCompare(b.from));
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** All statements of the inline policies attached to a role. */
function roleStatements(template: Template, roleId: string): Statement[] {
  return [...resources(template, 'AWS::IAM::Policy').values()]
    .filter((p) => (p.Properties.Roles as Json[]).some((r) => targetId(r) === roleId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function actions(statement: Statement): string[] {
  return (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).slice().sort();
}

function resourceIds(statement: Statement): string[] {
  const list = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return list.map(targetId).sort();
}

// ---- the default deployment ------------------------------------------------------------------

const { stack, template } = synth();

const jobQueueId = only(template, 'AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined)[0];
const deadLetterQueueId = only(template, 'AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy === undefined)[0];
const [workerId, worker] = only(template, 'AWS::Lambda::Function', (r) => r.Properties.Handler === 'index.handler');
const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
const apiSecurityGroup = securityGroupId(template, 'FinCore API tasks');
const workerSecurityGroup = securityGroupId(template, 'FinCore worker (Lambda)');
const databaseSecurityGroup = securityGroupId(template, 'FinCore PostgreSQL: reachable only from the API tasks and the worker');
const databaseSecret = only(template, 'AWS::SecretsManager::Secret', (r) => JSON.stringify(r.Properties.GenerateSecretString ?? {}).includes('dbname'))[0];
const secretWith = (field: string) =>
  only(template, 'AWS::SecretsManager::Secret', (r) => JSON.stringify(r.Properties.GenerateSecretString ?? r.Properties.SecretString ?? '').includes(field))[0];
// The secret as attached to the instance: its Ref is the same ARN, and readers of it wait until the
// attachment has written host and port.
const databaseCredentials = only(template, 'AWS::SecretsManager::SecretTargetAttachment')[0];
const adminKeySecret = secretWith('admin_key');
const webhookSecret = secretWith('psp_webhook_secret');
const pspSecret = PSP_CREDENTIALS_ARN;
const container = (taskDefinition.Properties.ContainerDefinitions as Json[])[0]!;

describe('network: the VPC of the physical view', () => {
  it('has public, private application and isolated database subnets in two AZs', () => {
    assert.equal(subnetIds(template, 'public').length, 2);
    assert.equal(subnetIds(template, 'application').length, 2);
    assert.equal(subnetIds(template, 'database').length, 2);
    for (const id of [...subnetIds(template, 'application'), ...subnetIds(template, 'database')]) {
      assert.equal(resource(template, id).Properties.MapPublicIpOnLaunch, false, id);
    }
  });

  it('routes the application subnets to the internet only through NAT, and the database subnets nowhere', () => {
    for (const subnet of subnetIds(template, 'application')) {
      const routes = routesOfSubnet(template, subnet);
      assert.equal(routes.length, 1);
      assert.equal(routes[0]!.Properties.DestinationCidrBlock, '0.0.0.0/0');
      assert.ok(routes[0]!.Properties.NatGatewayId, 'default route goes through a NAT gateway');
      assert.equal(routes[0]!.Properties.GatewayId, undefined);
    }
    for (const subnet of subnetIds(template, 'database')) assert.deepEqual(routesOfSubnet(template, subnet), []);
  });

  it('strips the rules from the VPC default security group', () => {
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });
});

describe('database: RDS for PostgreSQL', () => {
  it('is encrypted, private, Multi-AZ and kept as a snapshot when deleted', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Snapshot',
      Properties: Match.objectLike({
        Engine: 'postgres',
        StorageEncrypted: true,
        PubliclyAccessible: false,
        MultiAZ: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        DBInstanceClass: 'db.t4g.small',
        DBName: 'fincore',
        Port: '5432',
        VPCSecurityGroups: [getAtt(databaseSecurityGroup, 'GroupId')],
      }),
    });
  });

  it('lives in the isolated database subnets', () => {
    const [, subnetGroup] = only(template, 'AWS::RDS::DBSubnetGroup');
    assert.deepEqual((subnetGroup.Properties.SubnetIds as Json[]).map(targetId).sort(), subnetIds(template, 'database'));
  });

  it('takes its credentials from a generated Secrets Manager secret that also names the database', () => {
    const [, instance] = only(template, 'AWS::RDS::DBInstance');
    assert.match(JSON.stringify(instance.Properties.MasterUserPassword), new RegExp(`resolve:secretsmanager:.*${databaseSecret}.*:SecretString:password`));
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: JSON.stringify({ username: 'fincore', dbname: 'fincore' }) }),
    });
    const instanceId = only(template, 'AWS::RDS::DBInstance')[0];
    template.hasResourceProperties('AWS::SecretsManager::SecretTargetAttachment', {
      SecretId: ref(databaseSecret),
      TargetId: ref(instanceId),
      TargetType: 'AWS::RDS::DBInstance',
    });
  });

  it('accepts 5432 from the API tasks and the worker only, and opens nothing outwards', () => {
    assert.deepEqual(ingressRules(template, databaseSecurityGroup), [
      { port: 'tcp/5432-5432', from: `sg:${apiSecurityGroup}` },
      { port: 'tcp/5432-5432', from: `sg:${workerSecurityGroup}` },
    ].sort((a, b) => a.from.localeCompare(b.from)));
    // CDK's placeholder for "no egress": a rule matching no traffic.
    assert.deepEqual(resource(template, databaseSecurityGroup).Properties.SecurityGroupEgress, [
      { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 },
    ]);
    const standaloneEgress = [...resources(template, 'AWS::EC2::SecurityGroupEgress').values()].filter((r) => targetId(r.Properties.GroupId) === databaseSecurityGroup);
    assert.deepEqual(standaloneEgress, []);
  });

  it('is reachable on 5432 from no other security group or address', () => {
    for (const [id] of resources(template, 'AWS::EC2::SecurityGroup')) {
      if (id === databaseSecurityGroup) continue;
      for (const rule of ingressRules(template, id)) assert.notEqual(rule.port, 'tcp/5432-5432', `${id} admits 5432 from ${rule.from}`);
    }
  });
});

describe('job queue: SQS queue and dead-letter queue', () => {
  it('redrives a job to the DLQ after maxReceiveCount deliveries', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetterQueueId, 'Arn'), maxReceiveCount: 8 },
    });
  });

  it('hides a delivered job for at least six times the worker timeout', () => {
    const [, queue] = only(template, 'AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined);
    assert.equal(worker.Properties.Timeout, 30);
    assert.equal(queue.Properties.VisibilityTimeout, 6 * 30);
  });

  it('keeps dead letters longer than jobs, and encrypts both queues', () => {
    const queues = resources(template, 'AWS::SQS::Queue');
    assert.equal(resource(template, deadLetterQueueId).Properties.MessageRetentionPeriod, 14 * 24 * 3600);
    assert.equal(resource(template, jobQueueId).Properties.MessageRetentionPeriod, 4 * 24 * 3600);
    for (const [id, queue] of queues) assert.equal(queue.Properties.SqsManagedSseEnabled, true, id);
  });

  it('refuses any request to either queue that does not use TLS', () => {
    for (const queueId of [jobQueueId, deadLetterQueueId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queueId)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });
});

describe('Payment Service: Fargate behind an Application Load Balancer', () => {
  it('runs the desired count of tasks in the application subnets, without public IPs', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100 }),
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          SecurityGroups: [getAtt(apiSecurityGroup, 'GroupId')],
          Subnets: subnetIds(template, 'application').map(ref),
        },
      },
      LoadBalancers: [Match.objectLike({ ContainerName: 'api', ContainerPort: 3000 })],
    });
  });

  it('puts an internet-facing load balancer in the public subnets, checking /readyz on port 3000', () => {
    const [, loadBalancer] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    assert.equal(loadBalancer.Properties.Scheme, 'internet-facing');
    assert.deepEqual((loadBalancer.Properties.Subnets as Json[]).map(targetId).sort(), subnetIds(template, 'public'));
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 3000,
      Protocol: 'HTTP',
      TargetType: 'ip',
      HealthCheckPath: '/readyz',
    });
  });

  it('lets only the load balancer reach the tasks, on 3000', () => {
    const loadBalancerGroup = targetId((only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[1].Properties.SecurityGroups as Json[])[0]);
    assert.deepEqual(ingressRules(template, apiSecurityGroup), [{ port: 'tcp/3000-3000', from: `sg:${loadBalancerGroup}` }]);
    assert.deepEqual(ingressRules(template, loadBalancerGroup), [{ port: 'tcp/80-80', from: 'cidr:0.0.0.0/0' }]);
  });

  it('serves plain HTTP only with a synth warning when no certificate is configured', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    Annotations.fromStack(stack).hasWarning('/FinCore/PaymentService', Match.stringLikeRegexp('plain HTTP'));
  });

  it('serves HTTPS with the given certificate and redirects HTTP when certificateArn is set', () => {
    const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0b9a1d5e-1111-2222-3333-444455556666';
    const https = synth({ certificateArn });
    https.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: certificateArn }],
      SslPolicy: Match.stringLikeRegexp('TLS13'),
    });
    https.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [Match.objectLike({ Type: 'redirect', RedirectConfig: Match.objectLike({ Port: '443', Protocol: 'HTTPS' }) })],
    });
    https.template.resourcePropertiesCountIs('AWS::ElasticLoadBalancingV2::Listener', { DefaultActions: Match.arrayWith([Match.objectLike({ Type: 'forward' })]) }, 1);
    Annotations.fromStack(https.stack).hasNoWarning('*', Match.stringLikeRegexp('plain HTTP'));
  });

  it('configures the container for the sqs transport and the RDS server, with no secret in plain text', () => {
    const instanceId = only(template, 'AWS::RDS::DBInstance')[0];
    assert.deepEqual(container.Environment, [
      { Name: 'HOST', Value: '0.0.0.0' },
      { Name: 'PORT', Value: '3000' },
      { Name: 'FINCORE_QUEUE', Value: 'sqs' },
      { Name: 'FINCORE_SQS_QUEUE_URL', Value: ref(jobQueueId) },
      { Name: 'FINCORE_PSP', Value: 'stripe' },
      { Name: 'PGHOST', Value: getAtt(instanceId, 'Endpoint.Address') },
      { Name: 'PGPORT', Value: '5432' },
      { Name: 'PGDATABASE', Value: 'fincore' },
      { Name: 'PGSSLMODE', Value: 'verify-full' },
      { Name: 'FINCORE_TRUST_PROXY', Value: getAtt(only(template, 'AWS::EC2::VPC')[0], 'CidrBlock') },
    ]);
    assert.deepEqual(container.PortMappings, [{ ContainerPort: 3000, Protocol: 'tcp' }]);
    assert.deepEqual(container.LinuxParameters, { Capabilities: {}, InitProcessEnabled: true });
  });

  it('injects the credentials, admin key, webhook secret and PSP keys from Secrets Manager', () => {
    const secrets = (container.Secrets as { Name: string; ValueFrom: Json | string }[]).map(({ Name, ValueFrom }) => {
      if (typeof ValueFrom === 'string') return { Name, secret: ValueFrom.slice(0, PSP_CREDENTIALS_ARN.length), field: ValueFrom.slice(PSP_CREDENTIALS_ARN.length) };
      const [secret, field] = (ValueFrom['Fn::Join'] as [string, [Json, string]])[1];
      return { Name, secret: targetId(secret), field };
    });
    assert.deepEqual(secrets, [
      { Name: 'PGUSER', secret: databaseCredentials, field: ':username::' },
      { Name: 'PGPASSWORD', secret: databaseCredentials, field: ':password::' },
      { Name: 'FINCORE_ADMIN_KEY', secret: adminKeySecret, field: ':admin_key::' },
      { Name: 'FINCORE_PSP_WEBHOOK_SECRET', secret: webhookSecret, field: ':psp_webhook_secret::' },
      { Name: 'STRIPE_SECRET_KEY', secret: pspSecret, field: ':STRIPE_SECRET_KEY::' },
      { Name: 'STRIPE_WEBHOOK_SECRET', secret: pspSecret, field: ':STRIPE_WEBHOOK_SECRET::' },
    ]);
  });

  it('generates the admin key and webhook secret, and holds no PSP credential in the template', () => {
    for (const [secret, field] of [[adminKeySecret, 'admin_key'], [webhookSecret, 'psp_webhook_secret']] as const) {
      const props = resource(template, secret).Properties;
      assert.equal((props.GenerateSecretString as Json).GenerateStringKey, field);
      assert.equal(props.SecretString, undefined);
    }
    // The PSP credentials are the operator's secret, imported by ARN: the stack seeds no empty
    // placeholder that would start FinCore with no webhook secret.
    const created = Object.values(template.findResources('AWS::SecretsManager::Secret')) as Resource[];
    assert.equal(created.length, 3, 'admin key, PSP webhook secret, database credentials');
    for (const secret of created) assert.doesNotMatch(JSON.stringify(secret.Properties), /STRIPE_/);
  });

  it('lets the task role send to the job queue and do nothing else', () => {
    const taskRole = targetId(taskDefinition.Properties.TaskRoleArn);
    assert.deepEqual(roleStatements(template, taskRole), [{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(jobQueueId, 'Arn') }]);
    assert.equal(resource(template, taskRole).Properties.ManagedPolicyArns, undefined);
  });

  it('lets the execution role read exactly the four secrets the container gets', () => {
    const executionRole = targetId(taskDefinition.Properties.ExecutionRoleArn);
    const secretReads = roleStatements(template, executionRole).filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')));
    assert.equal(secretReads.length, 1);
    assert.deepEqual(actions(secretReads[0]!), ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    assert.deepEqual(resourceIds(secretReads[0]!), [adminKeySecret, databaseCredentials, pspSecret, webhookSecret].sort());
    for (const statement of roleStatements(template, executionRole)) {
      assert.ok(!actions(statement).some((a) => a.startsWith('sqs:')), 'the execution role has no queue access');
    }
  });
});

describe('worker: Lambda fed by SQS', () => {
  it('runs the esbuild bundle on Node.js 22 in the application subnets with its own security group', () => {
    assert.equal(worker.Properties.Runtime, 'nodejs22.x');
    assert.equal(worker.Properties.Handler, 'index.handler');
    assert.equal(worker.Properties.MemorySize, 512);
    assert.deepEqual(worker.Properties.VpcConfig, {
      SecurityGroupIds: [getAtt(workerSecurityGroup, 'GroupId')],
      SubnetIds: subnetIds(template, 'application').map(ref),
    });
  });

  it('gets secrets by ARN, never by value, and knows the last delivery attempt', () => {
    assert.deepEqual((worker.Properties.Environment as { Variables: Json }).Variables, {
      FINCORE_DB_SECRET_ARN: ref(databaseCredentials),
      FINCORE_PSP_SECRET_ARN: PSP_CREDENTIALS_ARN,
      FINCORE_PSP: 'stripe',
      PGSSLMODE: 'verify-full',
      FINCORE_SQS_MAX_RECEIVE_COUNT: '8',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('consumes the job queue in bounded batches, with partial batch failures reported', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(workerId),
      EventSourceArn: getAtt(jobQueueId, 'Arn'),
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  it('may consume the job queue, read its two secrets, and nothing else', () => {
    const role = targetId(worker.Properties.Role);
    const statements = roleStatements(template, role);
    const queueStatements = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
    assert.equal(queueStatements.length, 1);
    assert.deepEqual(actions(queueStatements[0]!), [
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    assert.deepEqual(resourceIds(queueStatements[0]!), [jobQueueId]);
    const secretStatements = statements.filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')));
    assert.deepEqual(secretStatements.flatMap(resourceIds).sort(), [databaseCredentials, pspSecret].sort());
    for (const s of secretStatements) assert.deepEqual(actions(s), ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    assert.equal(statements.length, queueStatements.length + secretStatements.length, 'no other permission');
    for (const s of statements) assert.equal(s.Effect, 'Allow');
    // Logs, and the network interfaces a function in a VPC needs.
    const managed = (resource(template, role).Properties.ManagedPolicyArns as Json[]).map((arn) => /policy\/service-role\/(\w+)/.exec(JSON.stringify(arn))?.[1]);
    assert.deepEqual(managed, ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']);
  });

  it('reaches PostgreSQL and HTTPS only', () => {
    assert.deepEqual(resource(template, workerSecurityGroup).Properties.SecurityGroupEgress, [
      { CidrIp: '0.0.0.0/0', Description: 'PSP and AWS APIs over HTTPS', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    const egress = [...resources(template, 'AWS::EC2::SecurityGroupEgress').values()].filter((r) => targetId(r.Properties.GroupId) === workerSecurityGroup);
    assert.deepEqual(egress.map((r) => [targetId(r.Properties.DestinationSecurityGroupId), r.Properties.FromPort, r.Properties.ToPort]), [[databaseSecurityGroup, 5432, 5432]]);
    assert.deepEqual(ingressRules(template, workerSecurityGroup), []);
  });

  it('runs a reconciliation sweep every minute, without retries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: getAtt(workerId, 'Arn'), RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(workerId, 'Arn'),
      Principal: 'events.amazonaws.com',
    });
  });
});

describe('alarms', () => {
  const topic = only(template, 'AWS::SNS::Topic')[0];

  it('alarms as soon as one job is dead-lettered', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(deadLetterQueueId, 'QueueName') }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(topic)],
    });
  });

  it('alarms when the oldest job has waited five minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(jobQueueId, 'QueueName') }],
      Threshold: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [ref(topic)],
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
  });

  it('mails the alarm topic only when alarmEmail is set', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    synth({ alarmEmail: 'oncall@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe('settings from CDK context', () => {
  it('reads -c strings into the template', () => {
    const custom = synth({
      apiDesiredCount: '3',
      dbMultiAz: 'false',
      dbInstanceType: 'm7g.large',
      workerTimeoutSeconds: '60',
      workerBatchSize: '5',
      workerMaxConcurrency: '20',
      maxReceiveCount: '3',
      psp: 'simulator',
    }).template;
    custom.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
    custom.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: false, DBInstanceClass: 'db.m7g.large' });
    custom.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Timeout: 60, Environment: { Variables: Match.objectLike({ FINCORE_SQS_MAX_RECEIVE_COUNT: '3', FINCORE_PSP: 'simulator' }) } });
    custom.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 360, RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }) });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 5, ScalingConfig: { MaximumConcurrency: 20 } });
  });

  it('refuses values that would break the guarantees', () => {
    const read = (context: Record<string, unknown>) => () => readSettings((key) => ({ pspCredentialsSecretArn: PSP_CREDENTIALS_ARN, ...context })[key]);
    assert.doesNotThrow(read({}));
    assert.throws(read({ workerBatchSize: '11' }), SettingsError);
    assert.throws(read({ workerMaxConcurrency: 1 }), SettingsError);
    assert.throws(read({ natGateways: '0' }), SettingsError);
    assert.throws(read({ dbMultiAz: 'yes' }), SettingsError);
    assert.throws(read({ workerTimeoutSeconds: '1.5' }), SettingsError);
    assert.throws(read({ certificateArn: 'not-an-arn' }), SettingsError);
    assert.throws(read({ dbAllocatedStorageGiB: 200, dbMaxAllocatedStorageGiB: 100 }), SettingsError);
    assert.throws(read({ psp: 'stripe', pspCredentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nosuffix' }), SettingsError);
  });

  it('refuses psp=stripe without the operator\'s PSP credentials secret, naming the context key', () => {
    assert.throws(() => readSettings((key) => ({ psp: 'stripe' })[key as 'psp']), /context pspCredentialsSecretArn is required with psp=stripe/);
    assert.throws(() => synth({ pspCredentialsSecretArn: '' }), /pspCredentialsSecretArn is required/);
  });

  it('with psp=simulator, injects no Stripe credential anywhere', () => {
    const simulator = synth({ psp: 'simulator', pspCredentialsSecretArn: '' }).template;
    const [, task] = only(simulator, 'AWS::ECS::TaskDefinition');
    const names = ((task.Properties.ContainerDefinitions as Json[])[0]!.Secrets as { Name: string }[]).map((s) => s.Name);
    assert.ok(!names.some((n) => n.startsWith('STRIPE_')), names.join(','));
    simulator.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Environment: { Variables: Match.objectLike({ FINCORE_PSP: 'simulator', FINCORE_PSP_SECRET_ARN: Match.absent() }) } });
  });
});

describe('container image', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('builds in one stage and runs from a second, as a non-root user', () => {
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /RUN npm prune --omit=dev/);
    assert.match(runtimeStage, /^USER node$/m);
    assert.doesNotMatch(runtimeStage, /npm (ci|install)/);
  });

  it('checks /healthz and runs the API as PID 1 in exec form', () => {
    assert.match(runtimeStage, /^HEALTHCHECK .*\n?.*\/healthz/m);
    // The compiled build on plain Node: no TypeScript loader, no sources in the image.
    assert.match(runtimeStage, /^CMD \["node", "dist\/cli\.js", "api"\]$/m);
    assert.match(runtimeStage, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.doesNotMatch(runtimeStage, /tsx|src\//);
    // The PSP simulator is a development tool (DESIGN.md section 5): compiled, then left out of the image.
    assert.match(dockerfile, /^RUN npm run build .*&& rm -rf dist\/psp-simulator$/m);
  });

  it('keeps dependencies, data and build output out of the build context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    for (const entry of ['node_modules', '.git', '.fincore', 'dist', 'cdk.out', 'test-artifacts']) assert.ok(ignored.includes(entry), entry);
  });
});
