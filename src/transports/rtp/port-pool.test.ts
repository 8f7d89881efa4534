import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { PortPool, PortsExhaustedError } from './port-pool.js';

/** A free even port with its successor pair, found by asking the OS, so parallel test runs do not collide. */
async function freeBase(): Promise<number> {
  for (;;) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.close();
    if (port % 2 === 0 && port + 6 < 65535) return port;
  }
}

describe('RTP port pool', () => {
  it('hands out bound even ports, round the range, and takes them back on release', async () => {
    const base = await freeBase();
    const pool = new PortPool({ host: '127.0.0.1', min: base - 1, max: base + 5 });
    expect(pool.capacity).toBe(3);
    const a = await pool.allocate();
    const b = await pool.allocate();
    expect([a.port, b.port]).toEqual([base, base + 2]);
    expect(a.socket.address().port).toBe(base);
    expect(pool.used).toBe(2);
    a.release();
    a.release();
    expect(pool.used).toBe(1);
    // Round the range: the next one is the unused port, not the one just released.
    const c = await pool.allocate();
    expect(c.port).toBe(base + 4);
    const d = await pool.allocate();
    expect(d.port).toBe(base);
    for (const l of [b, c, d]) l.release();
    expect(pool.used).toBe(0);
  });

  it('skips ports other programs hold and says clearly when none is left', async () => {
    const base = await freeBase();
    const squatter = createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(base, '127.0.0.1', () => r()));
    try {
      const pool = new PortPool({ host: '127.0.0.1', min: base, max: base + 3 });
      const only = await pool.allocate();
      expect(only.port).toBe(base + 2);
      const err = await pool.allocate().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortsExhaustedError);
      expect((err as Error).message).toMatch(new RegExp(`no free RTP port in ${base}–${base + 3}: palabre's calls hold 1 of the 2 even ports; some held by other programs: ${base} \\(EADDRINUSE\\)`));
      only.release();
      expect((await pool.allocate()).port).toBe(base + 2);
    } finally {
      squatter.close();
    }
  });

  it('refuses a range without an even port', () => {
    expect(() => new PortPool({ host: '127.0.0.1', min: 30001, max: 30001 })).toThrow(/holds no even port/);
    expect(() => new PortPool({ host: '127.0.0.1', min: 30010, max: 30000 })).toThrow(/holds no even port/);
  });
});
