/**
 * Talks to the dialog for a call: one event at a time, in order, each bounded
 * by a timeout and by the end of the call; then acts on the outputs: speech,
 * how to listen next, side effects (whose results go back as `action-result`
 * events), transfer and hangup once everything said has played, and the
 * state, intent and slot reports for the timeline and the store. When the
 * call ends without the dialog ending it, the dialog gets a `hangup` event
 * and its last side effects are performed.
 */
import type { DialogEvent, DialogOutput, DialogRuntime, ListenSpec, SideEffect } from '../dialog/types.js';
import type { EffectHandler, EffectResult } from './effects.js';
import type { TurnTimeline } from './events.js';
import type { CallEndReason } from './io.js';
import { bounded } from './clock.js';
import type { SessionCore } from './session-core.js';

/** What one dialog answer has done so far: early outputs and the final ones share it. */
interface ReplyProgress {
  spoke: boolean;
  listen?: ListenSpec;
}

export class DialogDriver {
  private chain: Promise<void> = Promise.resolve();
  private closing: { reason: CallEndReason; detail?: string; target?: string } | undefined;
  private closingStarted = false;
  /** The dialog threw: it is not asked anything more. */
  private failed = false;

  constructor(
    private readonly core: SessionCore,
    private readonly dialog: DialogRuntime,
    private readonly effects: EffectHandler,
  ) {}

  /** Where a transfer output sent the caller, for the transport's close(). */
  get transferTarget(): string | undefined {
    return this.closing?.target;
  }

  /** True once the dialog said to hang up or transfer: the call is winding down. */
  get winding(): boolean {
    return this.closing !== undefined;
  }

  send(event: DialogEvent | undefined, turn: TurnTimeline | undefined): void {
    const core = this.core;
    // Once the dialog has said goodbye, only the results of its own effects still go to it.
    if (this.closing && event?.type !== 'action-result') {
      if (turn) core.finishTurn(turn, 'cancelled');
      return;
    }
    core.setBusy(+1);
    const job = this.chain.then(async () => {
      if (core.ending()) return;
      if (turn) turn.dialogStartMs = core.now();
      let outputs: DialogOutput[];
      const reply: ReplyProgress = { spoke: false };
      // The first sentences of a streamed model reply are spoken while the dialog is still working.
      const early = (ready: DialogOutput[]): void => {
        if (core.ending()) return;
        for (const o of ready) this.act(o, turn, reply);
      };
      try {
        const call = event ? this.dialog.handle(event, core.signal, early) : this.dialog.start(early);
        outputs = await core.clock.track(core.withTimeout(call, core.options.dialogTimeoutMs, 'the dialog'));
      } catch (err) {
        if (turn) core.finishTurn(turn, core.ending() ? 'cancelled' : 'failed');
        if (!core.ending()) this.failed = true;
        core.fault('dialog', err);
        return;
      }
      if (core.ending()) return;
      if (turn) turn.dialogDoneMs = core.now();
      this.apply(outputs, turn, reply);
    });
    this.chain = job.finally(() => core.setBusy(-1));
    core.track(this.chain);
  }

  private apply(outputs: DialogOutput[], turn: TurnTimeline | undefined, reply: ReplyProgress): void {
    const core = this.core;
    for (const o of outputs) this.act(o, turn, reply);
    if (turn && !reply.spoke) core.finishTurn(turn, 'answered');
    if (this.closing) {
      this.windDown();
      return;
    }
    if (reply.listen) core.detector.listen(reply.listen, core.now());
    else if (!core.detector.listening) core.detector.listen(core.fallbackListen, core.now());
    core.armDeadline();
  }

  /** One output, early or final; the first say of a turn carries its reply timings. */
  private act(o: DialogOutput, turn: TurnTimeline | undefined, reply: ReplyProgress): void {
    const core = this.core;
    switch (o.type) {
      case 'say':
        core.speak({ text: o.text, language: o.language, style: o.style, voice: o.voice }, reply.spoke ? undefined : turn);
        reply.spoke = true;
        break;
      case 'listen':
        reply.listen = o.spec;
        break;
      case 'effect':
        this.perform(o.id, o.effect);
        break;
      case 'transfer':
        this.closing ??= { reason: 'transfer', detail: o.reason, target: o.target };
        break;
      case 'hangup':
        this.closing ??= { reason: 'bot_hangup', detail: o.reason };
        break;
      case 'state':
        core.record.state(o.from, o.to);
        core.emit({ type: 'state', from: o.from, to: o.to });
        break;
      case 'intent':
        if (turn) {
          // The intent is known when the dialog answers (its classifier runs inside handle()).
          turn.intent = o.intent;
          turn.intentMs = turn.dialogDoneMs ?? core.now();
        }
        core.emit({ type: 'intent', intent: o.intent, confidence: o.confidence, source: o.source, text: o.text, ...(o.sentiment ? { sentiment: o.sentiment } : {}) });
        break;
      case 'slot':
        core.emit({ type: 'slot', name: o.name, value: o.value, confidence: o.confidence });
        break;
    }
  }

  /** Stops listening, lets the last words play, then ends the call as the dialog said. */
  private windDown(): void {
    if (this.closingStarted || !this.closing) return;
    this.closingStarted = true;
    const core = this.core;
    const { reason, detail } = this.closing;
    core.detector.stop();
    core.armDeadline();
    core.track(core.botIdle().then(() => core.requestEnd(reason, detail)));
  }

  /**
   * The call ended without the dialog ending it (the caller hung up, the line
   * failed, a timeout): the dialog hears of it, and the side effects it asks
   * for then (saving what was collected so far) are still performed. Nothing
   * is said any more and no result goes back. Bounded by `ms`.
   */
  async farewell(reason: CallEndReason, ms: number): Promise<void> {
    if (this.closing || this.failed) return;
    const core = this.core;
    const signal = new AbortController();
    const timer = core.clock.setTimeout(() => signal.abort(new Error(`the dialog took more than ${ms} ms to close`)), ms);
    try {
      await this.chain;
      const outputs = await core.clock.track(bounded(core.clock, this.dialog.handle({ type: 'hangup', reason }, signal.signal), ms, 'the dialog', signal.signal));
      for (const o of outputs) {
        if (o.type === 'state') {
          core.record.state(o.from, o.to);
          core.emit({ type: 'state', from: o.from, to: o.to });
        }
        if (o.type !== 'effect') continue;
        const result = await this.run(o.effect, signal.signal);
        this.report(o.id, o.effect, result, core.now());
      }
    } catch (err) {
      core.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'the dialog could not close the call');
    } finally {
      core.clock.clearTimeout(timer);
      signal.abort();
    }
  }

  private async run(effect: SideEffect, signal: AbortSignal): Promise<EffectResult> {
    const core = this.core;
    // Bounded here too: a handler that ignores its signal must not hold the call (or a fast clock) open.
    const limit = effect.type === 'webhook' ? effect.timeoutMs + 1000 : core.options.dialogTimeoutMs;
    try {
      return await core.clock.track(bounded(core.clock, this.effects(effect, { callId: core.id, signal }), limit, `the ${effect.type} effect`, signal));
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private report(id: string, effect: SideEffect, result: EffectResult, started: number): void {
    const core = this.core;
    if (effect.type === 'save_record' && result.ok) {
      core.record.saveRecord(effect.kind, effect.data);
      core.emit({ type: 'record', kind: effect.kind, data: effect.data });
    }
    core.emit({ type: 'effect', id, kind: effect.type, ok: result.ok, durationMs: core.now() - started, ...(result.error ? { error: result.error } : {}) });
  }

  private perform(id: string, effect: SideEffect): void {
    const core = this.core;
    const started = core.now();
    const task = (async () => {
      const result = await this.run(effect, core.signal);
      if (core.ending()) return;
      this.report(id, effect, result, started);
      this.send({ type: 'action-result', id, ok: result.ok, data: result.data, error: result.error }, undefined);
    })();
    core.track(task);
  }
}
