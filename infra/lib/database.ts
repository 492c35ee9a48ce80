import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DATABASE_SUBNETS } from './network.ts';
import type { FinCoreSettings } from './settings.ts';

export const POSTGRES_PORT = 5432;
export const DATABASE_NAME = 'fincore';

export interface PaymentsDatabaseProps {
  vpc: ec2.IVpc;
  settings: FinCoreSettings;
}

/** RDS for PostgreSQL holding payments, refunds, jobs and the audit trail. */
export class PaymentsDatabase extends Construct {
  readonly instance: rds.DatabaseInstance;
  /**
   * The credentials as attached to the instance: JSON with username, password and dbname, plus
   * host and port written by the attachment. Referencing the attachment (not the bare secret)
   * makes whatever reads it wait until host and port are in it.
   */
  readonly secret: secretsmanager.ISecret;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: PaymentsDatabaseProps) {
    super(scope, id);
    const { settings } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'FinCore PostgreSQL: reachable only from the API tasks and the worker',
      // A database never opens connections: no egress at all.
      allowAllOutbound: false,
    });
    // Our own secret rather than the one DatabaseInstance would generate, because only this way
    // it carries `dbname`, which the worker reads at cold start.
    const credentials = new rds.DatabaseSecret(this, 'Secret', { username: 'fincore', dbname: DATABASE_NAME });
    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: new ec2.InstanceType(settings.dbInstanceType),
      vpc: props.vpc,
      vpcSubnets: DATABASE_SUBNETS,
      securityGroups: [this.securityGroup],
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromSecret(credentials),
      databaseName: DATABASE_NAME,
      publiclyAccessible: false,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: settings.dbAllocatedStorageGiB,
      maxAllocatedStorage: settings.dbMaxAllocatedStorageGiB,
      multiAz: settings.dbMultiAz,
      backupRetention: Duration.days(settings.dbBackupRetentionDays),
      deletionProtection: settings.dbDeletionProtection,
      // Money records: deleting the stack leaves a final snapshot, never nothing.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      autoMinorVersionUpgrade: true,
    });
    if (!this.instance.secret) throw new Error('DatabaseInstance did not attach its credentials secret');
    this.secret = this.instance.secret;
  }

  /** Opens 5432 from `peer` (and, when the peer restricts egress, 5432 out of it) and nothing else. */
  allowConnectionsFrom(peer: ec2.IConnectable, description: string): void {
    this.securityGroup.connections.allowFrom(peer, ec2.Port.tcp(POSTGRES_PORT), description);
  }
}
