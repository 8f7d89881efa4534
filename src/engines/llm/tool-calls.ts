/**
 * Tool calls as OpenAI-compatible servers stream them: the first delta of a
 * call carries its `index`, `id` and function name, later ones only the same
 * `index` and the next fragment of the arguments' JSON text. Several calls
 * (parallel tool calls) interleave by index. Assembled here, and checked to
 * be a named call with JSON arguments once the answer is complete.
 */
import { PalabreError } from '../../errors.js';
import type { LlmToolCall } from './types.js';

export interface ToolCallDelta {
  index?: unknown;
  id?: unknown;
  type?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

interface Partial {
  id: string;
  name: string;
  args: string;
}

export class ToolCallAssembler {
  private readonly calls = new Map<number, Partial>();

  constructor(private readonly what: string) {}

  get size(): number {
    return this.calls.size;
  }

  add(deltas: readonly ToolCallDelta[]): void {
    for (const [position, d] of deltas.entries()) {
      // Some servers send whole calls without an index; their position in the list stands in for it.
      const index = typeof d.index === 'number' ? d.index : position;
      let call = this.calls.get(index);
      if (!call) {
        call = { id: '', name: '', args: '' };
        this.calls.set(index, call);
      }
      if (typeof d.id === 'string' && d.id !== '') call.id = d.id;
      if (typeof d.function?.name === 'string') call.name += d.function.name;
      if (typeof d.function?.arguments === 'string') call.args += d.function.arguments;
    }
  }

  /** The complete calls in index order; a call without a name or with arguments that are not JSON is an error naming it. */
  finish(): LlmToolCall[] {
    const out: LlmToolCall[] = [];
    for (const [index, call] of [...this.calls.entries()].sort((a, b) => a[0] - b[0])) {
      if (call.name === '') throw new PalabreError('engine_failed', `${this.what} sent tool call #${index} without a function name`);
      let args: unknown = {};
      if (call.args.trim() !== '') {
        try {
          args = JSON.parse(call.args);
        } catch (err) {
          throw new PalabreError('engine_failed', `${this.what} sent arguments for tool "${call.name}" that are not JSON: ${call.args.slice(0, 120)}`, { cause: err });
        }
      }
      out.push({ id: call.id || `call_${index}`, name: call.name, arguments: args });
    }
    this.calls.clear();
    return out;
  }
}
