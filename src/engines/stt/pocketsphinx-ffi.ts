/**
 * A thin koffi binding to Debian's libpocketsphinx.so.3 (0.8+5prealpha API)
 * and one synchronous decoder over it. Every call here blocks the calling
 * thread, so the engine runs it inside a worker thread (pocketsphinx-worker.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { PalabreError } from '../../errors.js';

export interface PocketSphinxPaths {
  /** Shared library name or path, found through the dynamic loader. */
  library: string;
  /** Acoustic model directory (holds mdef, means, variances…). */
  hmm: string;
  dict: string;
  lm: string;
  /** Where the C library writes its log; /dev/null keeps stderr clean. */
  logFile: string;
  /** Extra decoder arguments (e.g. `-beam 1e-40 -maxhmmpf 10000` to trade accuracy for speed). */
  args?: readonly string[];
}

/** One recognised token as the decoder reports it, fillers included. */
export interface RawWord {
  word: string;
  /** First and last 10 ms frame, inclusive. */
  startFrame: number;
  endFrame: number;
  /** Posterior probability in [0, 1]; undefined when the search computes none (grammar search). */
  prob?: number;
}

export interface RawDecode {
  hyp: string;
  words: RawWord[];
  /** Frames (10 ms) the decoder processed. */
  frames: number;
  /** Hint phrases dropped because a word is not in the dictionary. */
  skipped: string[];
  grammar: boolean;
}

/** What to search with: the open language model, an explicit grammar or a list of hint phrases. */
export type SearchSpec =
  | { kind: 'lm' }
  | { kind: 'grammar'; text: string; words: string[] }
  | { kind: 'hints'; phrases: string[][] };

type Fn = (...args: unknown[]) => unknown;

interface Api {
  ps_args: Fn;
  cmd_ln_parse_r: Fn;
  cmd_ln_free_r: Fn;
  ps_init: Fn;
  ps_free: Fn;
  ps_start_stream: Fn;
  ps_start_utt: Fn;
  ps_process_raw: Fn;
  ps_end_utt: Fn;
  ps_get_hyp: Fn;
  ps_get_n_frames: Fn;
  ps_seg_iter: Fn;
  ps_seg_next: Fn;
  ps_seg_word: Fn;
  ps_seg_frames: Fn;
  ps_seg_prob: Fn;
  ps_seg_free: Fn;
  ps_get_logmath: Fn;
  logmath_exp: Fn;
  ps_set_jsgf_string: Fn;
  ps_set_search: Fn;
  ps_get_search: Fn;
  ps_unset_search: Fn;
  ps_lookup_word: Fn;
  ckd_free: Fn;
  ps_get_feat: Fn;
  cmn_live_get: Fn;
  cmn_live_set: Fn;
  featType: TypeObject;
}

const apis = new Map<string, Api>();

/**
 * The leading fields of sphinxbase's public `feat_t` (sphinxbase/feat.h), up
 * to the CMN state pointer: reading it lets each utterance start from the
 * model's initial cepstral mean instead of whatever the previous caller left.
 */
function featStruct(): TypeObject {
  return koffi.struct({
      refcount: 'int',
      name: 'void *',
      cepsize: 'int32_t',
      n_stream: 'int32_t',
      stream_len: 'void *',
      window_size: 'int32_t',
      n_sv: 'int32_t',
      sv_len: 'void *',
      subvecs: 'void *',
      sv_buf: 'void *',
      sv_dim: 'int32_t',
      cmn: 'int',
      varnorm: 'int32_t',
      agc: 'int',
      compute_feat: 'void *',
    cmn_struct: 'void *',
  });
}

function bind(library: string): Api {
  const cached = apis.get(library);
  if (cached) return cached;
  let lib: LibraryHandle;
  try {
    lib = koffi.load(library);
  } catch (err) {
    throw new PalabreError(
      'engine_unavailable',
      `cannot load the PocketSphinx library ${library}: ${(err as Error).message.split('\n')[0]} (on Debian: apt-get install libpocketsphinx3 pocketsphinx-en-us)`,
      { cause: err },
    );
  }
  for (const t of ['ps_decoder_t', 'cmd_ln_t', 'ps_seg_t', 'logmath_t', 'arg_t']) {
    // Opaque types are registered once per process; a second library path reuses them.
    try {
      koffi.opaque(t);
    } catch {
      /* already declared */
    }
  }
  const f = (decl: string): Fn => lib.func(decl) as Fn;
  // sphinxbase symbols (cmd_ln_*, logmath_*, ckd_free) resolve through libpocketsphinx's own dependency.
  const api: Api = {
    ps_args: f('const arg_t *ps_args(void)'),
    cmd_ln_parse_r: f('cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *inout, const arg_t *defn, int argc, const char **argv, int strict)'),
    cmd_ln_free_r: f('int cmd_ln_free_r(cmd_ln_t *cmdln)'),
    ps_init: f('ps_decoder_t *ps_init(cmd_ln_t *config)'),
    ps_free: f('int ps_free(ps_decoder_t *ps)'),
    ps_start_stream: f('int ps_start_stream(ps_decoder_t *ps)'),
    ps_start_utt: f('int ps_start_utt(ps_decoder_t *ps)'),
    ps_process_raw: f('int ps_process_raw(ps_decoder_t *ps, const int16_t *data, size_t n, int no_search, int full_utt)'),
    ps_end_utt: f('int ps_end_utt(ps_decoder_t *ps)'),
    ps_get_hyp: f('const char *ps_get_hyp(ps_decoder_t *ps, _Out_ int32_t *score)'),
    ps_get_n_frames: f('int ps_get_n_frames(ps_decoder_t *ps)'),
    ps_seg_iter: f('ps_seg_t *ps_seg_iter(ps_decoder_t *ps)'),
    ps_seg_next: f('ps_seg_t *ps_seg_next(ps_seg_t *seg)'),
    ps_seg_word: f('const char *ps_seg_word(ps_seg_t *seg)'),
    ps_seg_frames: f('void ps_seg_frames(ps_seg_t *seg, _Out_ int *sf, _Out_ int *ef)'),
    ps_seg_prob: f('int32_t ps_seg_prob(ps_seg_t *seg, _Out_ int32_t *ascr, _Out_ int32_t *lscr, _Out_ int32_t *lback)'),
    ps_seg_free: f('void ps_seg_free(ps_seg_t *seg)'),
    ps_get_logmath: f('logmath_t *ps_get_logmath(ps_decoder_t *ps)'),
    logmath_exp: f('double logmath_exp(logmath_t *lmath, int p)'),
    ps_set_jsgf_string: f('int ps_set_jsgf_string(ps_decoder_t *ps, const char *name, const char *jsgf)'),
    ps_set_search: f('int ps_set_search(ps_decoder_t *ps, const char *name)'),
    ps_get_search: f('const char *ps_get_search(ps_decoder_t *ps)'),
    ps_unset_search: f('int ps_unset_search(ps_decoder_t *ps, const char *name)'),
    ps_lookup_word: f('void *ps_lookup_word(ps_decoder_t *ps, const char *word)'),
    ckd_free: f('void ckd_free(void *ptr)'),
    ps_get_feat: f('void *ps_get_feat(ps_decoder_t *ps)'),
    cmn_live_get: f('void cmn_live_get(void *cmn, _Out_ float *vec)'),
    cmn_live_set: f('void cmn_live_set(void *cmn, const float *vec)'),
    featType: featStruct(),
  };
  apis.set(library, api);
  return api;
}

function checkModelFiles(paths: PocketSphinxPaths): void {
  const missing: string[] = [];
  if (!existsSync(join(paths.hmm, 'mdef'))) missing.push(`acoustic model ${paths.hmm} (no mdef inside)`);
  for (const [what, file] of [
    ['dictionary', paths.dict],
    ['language model', paths.lm],
  ] as const) {
    if (!existsSync(file) || !statSync(file).isFile()) missing.push(`${what} ${file}`);
  }
  if (missing.length > 0) {
    throw new PalabreError('engine_unavailable', `PocketSphinx model files are missing: ${missing.join('; ')} (on Debian: apt-get install pocketsphinx-en-us)`);
  }
}

/** Name of the temporary search a grammar or hint list is installed under for one utterance. */
const REQUEST_SEARCH = 'palabre_request';

export class PsDecoder {
  private readonly api: Api;
  private ps: unknown;
  private readonly logmath: unknown;
  private readonly defaultSearch: string;
  private grammarActive = false;
  private inUtterance = false;
  /**
   * sphinxbase's CMN state, the model's initial mean (restored before every
   * utterance) and the model's CMN type: the library switches a decoder from
   * batch to live CMN for good after its first streamed utterance, which
   * makes every later whole-utterance decode worse (86 % → 100 % word errors
   * on telephone prompts), so whole utterances put the model's type back.
   */
  private readonly cmn?: { state: unknown; initial: Float32Array; feat: unknown; type: number };

  constructor(paths: PocketSphinxPaths) {
    checkModelFiles(paths);
    this.api = bind(paths.library);
    const argv = ['-hmm', paths.hmm, '-dict', paths.dict, '-lm', paths.lm, '-logfn', paths.logFile, ...(paths.args ?? [])];
    const config = this.api.cmd_ln_parse_r(null, this.api.ps_args(), argv.length, argv, 1);
    if (!config) throw new PalabreError('engine_unavailable', `PocketSphinx rejected its arguments: ${argv.join(' ')}`);
    this.ps = this.api.ps_init(config);
    // ps_init holds its own reference to the configuration.
    this.api.cmd_ln_free_r(config);
    if (!this.ps) {
      throw new PalabreError('engine_unavailable', `PocketSphinx failed to initialise with hmm=${paths.hmm} dict=${paths.dict} lm=${paths.lm}; check that these are a matching model set`);
    }
    this.logmath = this.api.ps_get_logmath(this.ps);
    this.defaultSearch = this.api.ps_get_search(this.ps) as string;
    this.cmn = this.readCmn();
  }

  private readCmn(): { state: unknown; initial: Float32Array; feat: unknown; type: number } | undefined {
    const featPtr = this.api.ps_get_feat(this.ps);
    if (!featPtr) return undefined;
    const feat = koffi.decode(featPtr, this.api.featType) as { cepsize: number; cmn_struct: unknown; cmn: number };
    // A cepstrum is 13 coefficients in every sphinx model; anything else means the struct layout is not the one we know.
    if (feat.cepsize !== 13 || !feat.cmn_struct) return undefined;
    const initial = new Float32Array(feat.cepsize);
    this.api.cmn_live_get(feat.cmn_struct, initial);
    return { state: feat.cmn_struct, initial, feat: featPtr, type: feat.cmn };
  }

  /** True when each utterance starts from the model's own cepstral mean (results independent of earlier requests). */
  get resetsCmn(): boolean {
    return this.cmn !== undefined;
  }

  private get handle(): unknown {
    if (!this.ps) throw new PalabreError('engine_failed', 'PocketSphinx decoder used after it was freed');
    return this.ps;
  }

  hasWord(word: string): boolean {
    const ptr = this.api.ps_lookup_word(this.handle, word);
    if (!ptr) return false;
    this.api.ckd_free(ptr);
    return true;
  }

  /**
   * Installs the search for the next utterance. A grammar that the C parser
   * refuses leaves the decoder on its default language model.
   */
  useSearch(spec: SearchSpec): { skipped: string[] } {
    this.resetSearch();
    if (spec.kind === 'lm') return { skipped: [] };
    let text: string;
    const skipped: string[] = [];
    if (spec.kind === 'grammar') {
      const unknown = [...new Set(spec.words.filter((w) => !this.hasWord(w)))];
      if (unknown.length > 0) {
        throw new PalabreError('bad_request', `grammar words not in the PocketSphinx dictionary: ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ', …' : ''}`, {
          details: { unknown },
        });
      }
      text = spec.text;
    } else {
      const kept: string[] = [];
      for (const phrase of spec.phrases) {
        if (phrase.length === 0) continue;
        if (phrase.every((w) => this.hasWord(w))) kept.push(phrase.join(' '));
        else skipped.push(phrase.join(' '));
      }
      if (kept.length === 0) return { skipped };
      text = `#JSGF V1.0;\ngrammar hints;\npublic <hint> = ${[...new Set(kept)].join(' | ')};\n`;
    }
    if ((this.api.ps_set_jsgf_string(this.handle, REQUEST_SEARCH, text) as number) < 0) {
      this.resetSearch();
      throw new PalabreError('bad_request', 'PocketSphinx could not compile the grammar (check that it has at least one reachable public rule)');
    }
    if ((this.api.ps_set_search(this.handle, REQUEST_SEARCH) as number) < 0) {
      this.resetSearch();
      throw new PalabreError('engine_failed', 'PocketSphinx could not switch to the grammar search');
    }
    this.grammarActive = true;
    return { skipped };
  }

  /** Back to the default language model; frees the request's grammar. */
  resetSearch(): void {
    if (this.inUtterance) this.endUtterance();
    if (this.api.ps_get_search(this.handle) !== this.defaultSearch) this.api.ps_set_search(this.handle, this.defaultSearch);
    this.api.ps_unset_search(this.handle, REQUEST_SEARCH);
    this.grammarActive = false;
  }

  start(): void {
    if (this.inUtterance) this.endUtterance();
    // A new stream restarts frame numbering at 0; the live CMN would otherwise carry the previous caller's channel.
    this.api.ps_start_stream(this.handle);
    if (this.cmn) this.api.cmn_live_set(this.cmn.state, this.cmn.initial);
    if ((this.api.ps_start_utt(this.handle) as number) < 0) throw new PalabreError('engine_failed', 'PocketSphinx could not start an utterance');
    this.inUtterance = true;
  }

  /**
   * Feeds audio. `wholeUtterance` hands over a complete utterance in one call:
   * the decoder then normalises the cepstral mean over the whole of it (batch
   * CMN), which short telephone prompts need (63 % against 98 % word errors on
   * the Asterisk prompts); streams feed pieces and use the running mean.
   */
  process(samples: Int16Array, wholeUtterance = false): void {
    if (!this.inUtterance) throw new PalabreError('engine_failed', 'PocketSphinx got audio outside an utterance');
    if (samples.length === 0) return;
    if (wholeUtterance && this.cmn) koffi.encode(this.cmn.feat, koffi.offsetof(this.api.featType, 'cmn'), 'int', this.cmn.type);
    if ((this.api.ps_process_raw(this.handle, samples, samples.length, 0, wholeUtterance ? 1 : 0) as number) < 0) {
      throw new PalabreError('engine_failed', 'PocketSphinx failed to process audio');
    }
  }

  /** The best hypothesis so far (during an utterance) or the final one (after it). */
  hypothesis(): string {
    const score = [0];
    return (this.api.ps_get_hyp(this.handle, score) as string | null) ?? '';
  }

  private endUtterance(): void {
    this.inUtterance = false;
    this.api.ps_end_utt(this.handle);
  }

  finish(skipped: string[] = []): RawDecode {
    if (this.inUtterance) this.endUtterance();
    const words: RawWord[] = [];
    const { api } = this;
    for (let seg = api.ps_seg_iter(this.handle); seg; seg = api.ps_seg_next(seg)) {
      const sf = [0];
      const ef = [0];
      api.ps_seg_frames(seg, sf, ef);
      const logProb = api.ps_seg_prob(seg, [0], [0], [0]) as number;
      // The grammar search has no lattice posterior: it reports log(1) for every word, which is no information.
      const prob = this.grammarActive ? undefined : (api.logmath_exp(this.logmath, logProb) as number);
      words.push({ word: api.ps_seg_word(seg) as string, startFrame: sf[0], endFrame: ef[0], prob });
    }
    return { hyp: this.hypothesis(), words, frames: api.ps_get_n_frames(this.handle) as number, skipped, grammar: this.grammarActive };
  }

  free(): void {
    if (!this.ps) return;
    this.api.ps_free(this.ps);
    this.ps = undefined;
  }
}
