import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** Where the API tasks and the worker run: private, with outbound internet through NAT. */
export const APPLICATION_SUBNETS: ec2.SubnetSelection = { subnetGroupName: 'application' };
/** Where PostgreSQL runs: no route to or from the internet at all. */
export const DATABASE_SUBNETS: ec2.SubnetSelection = { subnetGroupName: 'database' };
/** Only the load balancer and the NAT gateways live here. */
export const PUBLIC_SUBNETS: ec2.SubnetSelection = { subnetGroupName: 'public' };

export interface NetworkProps {
  natGateways: number;
}

/** The VPC of the design's physical view: public edge, private application tier, isolated data tier. */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      // Two AZs: enough for a Multi-AZ database and for the service to survive losing one.
      maxAzs: 2,
      natGateways: props.natGateways,
      // The default security group would otherwise allow all traffic between its members.
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'application', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
  }
}
