/**
 * The operator API's guard (the rule is stated in auth.ts):
 *
 * - with `server.adminToken` set, a request needs `Authorization: Bearer
 *   <adminToken>` (401 otherwise), whatever address the server listens on;
 * - without it, requests are allowed only while the server listens on a
 *   loopback address, where only this machine can reach it; listening on
 *   another address they get 403 naming the setting to set.
 *
 * An <audio> element cannot send a header, so the recording of a call can
 * also be fetched with a signed link (`?exp=&sig=`) that GET /api/calls/:id
 * hands out: an HMAC of the call id and expiry keyed by the admin token, so
 * it opens that one recording, until it expires, on any server sharing the
 * token, and dies when the token changes.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sameSecret } from './auth.js';

export const ADMIN_TOKEN_SETTING = 'server.adminToken (PALABRE_SERVER_ADMIN_TOKEN)';

export function isLoopback(address: string): boolean {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (a === 'localhost') return true;
  if (isIP(a) === 4) return a.startsWith('127.');
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) return a.slice(7).startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

export interface AdminGuardOptions {
  adminToken?: string;
  /** The address the server listens on, once it does; undefined before (then the configured host counts). */
  listenAddress: () => string | undefined;
  configuredHost: string;
}

function refuse(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="palabre operator"');
  return reply.status(status).send({ error: status === 401 ? 'unauthorized' : 'forbidden', message, statusCode: status });
}

/** An onRequest hook; `allowLink` lets one route also accept its signed link. */
export function adminGuard(options: AdminGuardOptions, allowLink?: (request: FastifyRequest) => boolean) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = options.adminToken;
    if (!token) {
      const address = options.listenAddress() ?? options.configuredHost;
      if (isLoopback(address)) return;
      return refuse(reply, 403, `the operator API is open without a token only while the server listens on a loopback address, and it listens on ${address}: set ${ADMIN_TOKEN_SETTING} and send \`Authorization: Bearer <adminToken>\``);
    }
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (match && sameSecret(match[1].trim(), token)) return;
    if (!match && allowLink?.(request)) return;
    return refuse(reply, 401, match ? `the bearer token is not the admin token (${ADMIN_TOKEN_SETTING})` : `the operator API needs an \`Authorization: Bearer <adminToken>\` header (${ADMIN_TOKEN_SETTING})`);
  };
}

function linkSignature(adminToken: string, callId: string, exp: number): string {
  return createHmac('sha256', adminToken).update(`recording\n${callId}\n${exp}`).digest('base64url');
}

/** Query string of a link to the call's recording valid until `exp` (unix seconds). */
export function signRecordingLink(adminToken: string, callId: string, exp: number): string {
  return `exp=${exp}&sig=${linkSignature(adminToken, callId, exp)}`;
}

export function verifyRecordingLink(adminToken: string, callId: string, exp: unknown, sig: unknown, nowSec: number): boolean {
  if (typeof sig !== 'string' || typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < nowSec) return false;
  return sameSecret(sig, linkSignature(adminToken, callId, exp));
}
