/**
 * Serves the operator dashboard's bundle (dashboard/dist, built by `npm run build:dashboard`)
 * at /dashboard. No auth here: the files are public; the app asks for the admin key and sends
 * it to the admin API. Paths are resolved inside dist only; the app routes by hash, so any other
 * extension-less path gets index.html.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ResourceMissing, ServiceUnavailable } from '../../domain/errors.ts';
import { sendError } from '../errors.ts';

/**
 * The repository's dashboard/dist: three folders up from src/api/routes/ when run from source, four
 * when compiled (`npm run build` puts this module in dist/src/api/routes/, beside dist/psp-simulator/).
 */
export const DEFAULT_DASHBOARD_DIST = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../../dashboard/dist' : '../../../dashboard/dist', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// The bundle loads only its own files; uPlot and Preact set inline styles from script.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function missing(reply: FastifyReply, path: string) {
  return sendError(reply, new ResourceMissing(`No dashboard file ${path}.`));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export function dashboardRoutes(app: FastifyInstance, distDir: string = DEFAULT_DASHBOARD_DIST): void {
  const root = resolve(distDir);
  const indexPath = join(root, 'index.html');

  const sendFile = async (reply: FastifyReply, path: string) => {
    const body = await readFile(path);
    const isIndex = path === indexPath;
    reply
      .header('content-type', CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // Hashed asset names change with their content; index.html must always be revalidated.
      .header('cache-control', !isIndex && path.startsWith(join(root, 'assets') + sep) ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (isIndex) reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
    return reply.code(200).send(body);
  };

  const serve = async (reply: FastifyReply, requested: string) => {
    if (!(await isFile(indexPath))) {
      return sendError(reply.header('retry-after', '30'), new ServiceUnavailable('The dashboard is not built. Run `npm run build:dashboard`, then reload this page.'));
    }
    if (requested === '' || requested === 'index.html') return sendFile(reply, indexPath);
    if (requested.includes('\0')) return missing(reply, requested);
    const target = resolve(root, requested);
    if (!target.startsWith(root + sep)) return missing(reply, requested);
    if (await isFile(target)) return sendFile(reply, target);
    // A file name (assets/x.js, favicon.ico) that is not there is a 404; anything else is an app path.
    if (extname(requested) !== '' || requested.startsWith('assets/')) return missing(reply, requested);
    return sendFile(reply, indexPath);
  };

  const options = { config: { auth: 'none' as const }, schema: { hide: true } };
  app.get('/dashboard', options, async (_request, reply) => serve(reply, ''));
  app.get<{ Params: { '*': string } }>('/dashboard/*', options, async (request, reply) => serve(reply, request.params['*']));
}
