/**
 * Who may call what. Two bearer tokens, each guarding its own routes:
 *
 * - `server.authToken` guards the speech API (STT, TTS, sessions, the demo's
 *   WebSocket). Unset, those routes are open.
 * - `server.adminToken` guards the operator API (OPERATOR_PREFIXES: calls,
 *   transcripts, recordings, records, stats), which holds what callers said.
 *   The authToken never opens it: an application allowed to transcribe must
 *   not thereby read every call. Unset, the operator API answers only while
 *   the server listens on a loopback address (the default 127.0.0.1), and
 *   refuses with 403 naming the setting otherwise. See admin-auth.ts.
 *
 * /health, /docs, Twilio's webhooks (signed instead) and the pages' own
 * static files need no token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * Routes a load balancer or a newcomer must reach without a token, and
 * Twilio's webhooks, which cannot carry one: they are authenticated by the
 * request signature instead (`twilio.authToken`).
 */
const PUBLIC_PREFIXES = ['/health', '/docs', '/twilio'];

/** The operator API: guarded by the admin token alone (admin-auth.ts), not by authToken. */
export const OPERATOR_PREFIXES = ['/api/calls', '/api/records', '/api/stats'];

/** `/api/calls`, `/api/calls/…` and `/api/calls.csv` (and the same for each prefix). */
export function isOperatorPath(path: string): boolean {
  return OPERATOR_PREFIXES.some((p) => path === p || path.startsWith(p + '/') || path.startsWith(p + '.'));
}

/**
 * The demo page's own files are public too: the page holds no data and asks
 * for the token itself, which it then sends on the API and WebSocket calls.
 */
function isPublic(method: string, path: string, publicFiles: ReadonlySet<string>): boolean {
  if (method === 'OPTIONS' || PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(p + '/'))) return true;
  return (method === 'GET' || method === 'HEAD') && publicFiles.has(path);
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Optional bearer-token auth: with no token configured every route is open. */
export function registerAuth(app: FastifyInstance, token: string | undefined, publicFiles: ReadonlySet<string> = new Set()): void {
  if (!token) return;
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (isPublic(request.method, path, publicFiles) || isOperatorPath(path)) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !sameSecret(match[1].trim(), token)) {
      void reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: match ? 'the bearer token is not valid' : 'this route needs an `Authorization: Bearer <token>` header', statusCode: 401 });
      return reply;
    }
  });
}
