/**
 * The caller's side of a whole `support-desk` call, as the end-to-end tests of
 * every transport play it: answer, key a ticket number, give a name, describe
 * the fault, confirm. Each step waits for the bot to finish speaking first.
 */
import { expect } from 'vitest';
import type { CallSummary } from '../../src/call/events.js';

export const SUPPORT_DESK_LINES = ['yes', 'my name is john smith', 'i do not have one', 'i do not have one', 'i do not have one', 'my internet is not working', 'yes', 'yes'];

const STEPS: Array<{ say?: string; dtmf?: string }> = [{ say: 'yes' }, { dtmf: '123456' }, ...SUPPORT_DESK_LINES.slice(1).map((say) => ({ say }))];

export interface SupportDeskCaller {
  /** Bot audio frames with sound in them so far. */
  readonly voiced: number;
  botDone(sinceVoiced: number): Promise<void>;
  say(line: string): Promise<unknown>;
  dtmf(digits: string): Promise<unknown>;
}

/** Plays the script; `voiced` is where the bot's first prompt starts counting. */
export async function playSupportDesk(caller: SupportDeskCaller, voiced = 0): Promise<void> {
  for (const step of STEPS) {
    await caller.botDone(voiced);
    voiced = caller.voiced;
    if (step.say) await caller.say(step.say);
    else await caller.dtmf(step.dtmf!);
  }
}

/** The flow went through every state and saved the ticket the script describes. */
export function expectSupportDeskTicket(summary: CallSummary | undefined): void {
  expect(summary?.states).toEqual(['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION', 'DIAGNOSTIC', 'SOLUTION', 'VERIFICATION', 'GOODBYE']);
  expect(summary?.records).toEqual([{ kind: 'ticket', data: expect.objectContaining({ ticket_number: '123456', name: expect.stringMatching(/^John /), problem: 'internet', solved: true }) }]);
}

/** Rejects when `closed` has not come within `ms`: the bot should hang up after its goodbye. */
export function botHangsUp<T>(closed: Promise<T>, ms = 30_000): Promise<T> {
  return Promise.race([closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the bot did not hang up')), ms))]);
}
