/**
 * Twilio request signatures (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed
 * with the account's auth token, over the full URL Twilio requested followed,
 * for a form POST, by every parameter name and value sorted by name.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormParams = ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>;

function pairs(params: FormParams): Array<readonly [string, string]> {
  return Array.isArray(params) ? [...(params as ReadonlyArray<readonly [string, string]>)] : Object.entries(params as Record<string, string>);
}

/** The signature Twilio sends for a request to `url` with form `params`. */
export function twilioSignature(authToken: string, url: string, params: FormParams = []): string {
  // Sorted by name, then value for a repeated name, so the order a form was sent in does not matter.
  const sorted = pairs(params).sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const data = url + sorted.map(([k, v]) => k + v).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Whether `signature` is the one Twilio would send; constant-time. */
export function verifyTwilioSignature(authToken: string, signature: string | undefined, url: string, params: FormParams = []): boolean {
  if (!signature) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
