/** Client address allow-list: IPv4/IPv6 addresses and CIDR ranges; empty allows everyone. */
import { BlockList, isIP } from 'node:net';
import { PalabreError } from '../../errors.js';

/** "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) → "10.0.0.1". */
export function normaliseAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

export function createAllowList(entries: readonly string[]): (address: string | undefined) => boolean {
  if (entries.length === 0) return () => true;
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [addr, prefixText, extra] = entry.split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined) throw new PalabreError('bad_request', `allow-list entry "${raw}" is not an IPv4/IPv6 address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      list.addAddress(addr, type);
      continue;
    }
    const prefix = Number(prefixText);
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(prefixText) || prefix > max) throw new PalabreError('bad_request', `allow-list entry "${raw}": prefix length must be 0 to ${max}`);
    list.addSubnet(addr, prefix, type);
  }
  return (address) => {
    if (!address) return false;
    const a = normaliseAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}
