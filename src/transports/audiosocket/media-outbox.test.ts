import { describe, expect, it } from 'vitest';
import { forEachFrame, Outbox } from './media-outbox.js';
import type { AudioBlock } from './media-protocol.js';

type Item = { t: 'dtmf'; conn: number; digit: string } | { t: 'note'; text: string };

describe('media-thread outbox', () => {
  it('posts one message per turn, packing runs of audio and keeping order across kinds', async () => {
    const posted: Array<{ items: Array<Item | AudioBlock>; transfer: ArrayBuffer[] }> = [];
    let extra = 0;
    const out = new Outbox<Item>(
      (items, transfer) => posted.push({ items, transfer }),
      () => {
        if (extra++ === 0) out.push({ t: 'note', text: 'added at flush' });
      },
    );
    const a = Int16Array.from([1, 2, 3]);
    const b = Int16Array.from([4, 5]);
    out.audio(1, a);
    out.audio(2, b);
    out.push({ t: 'dtmf', conn: 1, digit: '5' });
    out.audio(1, Int16Array.from([6]));
    a.fill(0); // the block was packed when the dtmf closed it: later changes do not leak in
    expect(posted).toHaveLength(0);
    await new Promise((r) => setImmediate(r));

    expect(posted).toHaveLength(1);
    const [{ items, transfer }] = posted;
    // What the flush hook adds goes after everything queued in the turn.
    expect(items.map((i) => i.t)).toEqual(['audio', 'dtmf', 'audio', 'note']);
    const frames: Array<[number, number[]]> = [];
    for (const item of items) if (item.t === 'audio') forEachFrame(item, (conn, s) => frames.push([conn, [...s]]));
    expect(frames).toEqual([
      [1, [1, 2, 3]],
      [2, [4, 5]],
      [1, [6]],
    ]);
    // Both blocks' buffers are transferred, not cloned.
    expect(transfer).toHaveLength(4);

    // Nothing queued, nothing posted; wake() still runs the flush hook.
    out.wake();
    await new Promise((r) => setImmediate(r));
    expect(posted).toHaveLength(1);
    expect(extra).toBe(2);
  });

  it('with audioDelayMs, audio alone waits to share a message; anything else takes the audio along at the end of the turn', async () => {
    const posted: Array<Array<Item | AudioBlock>> = [];
    const out = new Outbox<Item>((items) => posted.push(items), undefined, 30);
    out.audio(1, Int16Array.from([1]));
    await new Promise((r) => setImmediate(r));
    expect(posted).toHaveLength(0);
    out.audio(2, Int16Array.from([2]));
    await new Promise((r) => setTimeout(r, 45));
    expect(posted).toHaveLength(1);
    expect(posted[0]).toHaveLength(1);

    out.audio(1, Int16Array.from([3]));
    out.push({ t: 'dtmf', conn: 1, digit: '#' });
    await new Promise((r) => setImmediate(r));
    expect(posted).toHaveLength(2);
    expect(posted[1].map((i) => i.t)).toEqual(['audio', 'dtmf']);
  });

  it('flush() posts at once, so a message that must not be overtaken can follow', () => {
    const posted: Array<Array<Item | AudioBlock>> = [];
    const out = new Outbox<Item>((items) => posted.push(items));
    out.push({ t: 'note', text: 'first' });
    out.flush();
    expect(posted).toEqual([[{ t: 'note', text: 'first' }]]);
  });
});
