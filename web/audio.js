/* global AudioWorkletNode, URL */
/**
 * Audio for the demo page: microphone capture (AudioWorklet, or a
 * ScriptProcessor where worklets are missing), band-limited downsampling to
 * the rate the server takes, PCM16 framing, and gap-free playback of the bot's
 * PCM16 frames that can be dropped at once on a barge-in.
 */

/** Windowed-sinc resampler for a stream of float blocks; keeps its history between blocks. */
export class Downsampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;
    // Cut-off just under the lower Nyquist, in cycles per input sample.
    this.cutoff = (0.45 * Math.min(inRate, outRate)) / inRate;
    // Eight zero crossings of the sinc on each side.
    this.half = Math.ceil(8 / (2 * this.cutoff));
    this.resolution = 64;
    const n = this.half * this.resolution + 2;
    this.table = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i / this.resolution;
      const u = 2 * this.cutoff * x;
      const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
      const r = Math.min(1, x / this.half);
      const blackman = 0.42 + 0.5 * Math.cos(Math.PI * r) + 0.08 * Math.cos(2 * Math.PI * r);
      this.table[i] = 2 * this.cutoff * sinc * blackman;
    }
    this.buf = new Float32Array(0);
    this.base = 0;
    this.pos = 0;
  }

  process(input) {
    const merged = new Float32Array(this.buf.length + input.length);
    merged.set(this.buf);
    merged.set(input, this.buf.length);
    const end = this.base + merged.length;
    const out = [];
    const { half, table, resolution } = this;
    while (this.pos + half < end) {
      const center = Math.floor(this.pos);
      let acc = 0;
      let wsum = 0;
      for (let k = center - half + 1; k <= center + half; k++) {
        const i = k - this.base;
        if (i < 0) continue;
        const t = Math.abs(this.pos - k) * resolution;
        const j = t | 0;
        if (j >= table.length - 1) continue;
        const w = table[j] + (table[j + 1] - table[j]) * (t - j);
        acc += merged[i] * w;
        wsum += w;
      }
      out.push(wsum > 0 ? acc / wsum : 0);
      this.pos += this.step;
    }
    const keepFrom = Math.max(this.base, Math.floor(this.pos) - half + 1);
    this.buf = merged.slice(keepFrom - this.base);
    this.base = keepFrom;
    return Float32Array.from(out);
  }
}

export function floatToPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
  }
  return out;
}

export function rms(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/** Cuts a stream of PCM16 samples into fixed frames (20 ms at `rate`). */
export class Framer {
  constructor(rate, onFrame) {
    this.size = Math.round(rate / 50);
    this.frame = new Int16Array(this.size);
    this.fill = 0;
    this.onFrame = onFrame;
  }

  push(samples) {
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(this.size - this.fill, samples.length - offset);
      this.frame.set(samples.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === this.size) {
        this.onFrame(this.frame);
        this.frame = new Int16Array(this.size);
        this.fill = 0;
      }
    }
  }
}

/**
 * Starts capturing `stream` on `ctx`; `onBlock(float32)` gets blocks at ctx.sampleRate.
 * Returns a function that stops the capture.
 */
export async function startCapture(ctx, stream, onBlock) {
  const source = ctx.createMediaStreamSource(stream);
  // Capture nodes must reach the destination to be pulled; a muted gain keeps the caller from hearing themselves.
  const mute = ctx.createGain();
  mute.gain.value = 0;
  mute.connect(ctx.destination);
  let node;
  if (ctx.audioWorklet && typeof AudioWorkletNode === 'function') {
    await ctx.audioWorklet.addModule(new URL('capture-worklet.js', import.meta.url));
    node = new AudioWorkletNode(ctx, 'palabre-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
    node.port.onmessage = (e) => onBlock(e.data);
  } else {
    node = ctx.createScriptProcessor(2048, 1, 1);
    node.onaudioprocess = (e) => onBlock(e.inputBuffer.getChannelData(0).slice());
  }
  source.connect(node);
  node.connect(mute);
  return () => {
    source.disconnect();
    node.disconnect();
    mute.disconnect();
    if (node.port) node.port.onmessage = null;
    for (const track of stream.getTracks()) track.stop();
  };
}

/** Plays PCM16 frames back to back; clear() silences everything scheduled. */
export class Player {
  constructor(ctx, rate, onChange) {
    this.ctx = ctx;
    this.rate = rate;
    this.next = 0;
    this.sources = new Set();
    this.onChange = onChange || (() => {});
  }

  get playing() {
    return this.sources.size > 0;
  }

  /** Milliseconds of audio scheduled and not yet played. */
  get bufferedMs() {
    return Math.max(0, (this.next - this.ctx.currentTime) * 1000);
  }

  push(pcm) {
    const buffer = this.ctx.createBuffer(1, pcm.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.ctx.destination);
    const now = this.ctx.currentTime;
    // After a gap, start a little ahead so the next frames arriving late do not underrun.
    if (this.next < now + 0.01) this.next = now + 0.05;
    src.start(this.next);
    this.next += pcm.length / this.rate;
    const wasPlaying = this.playing;
    this.sources.add(src);
    src.onended = () => {
      this.sources.delete(src);
      if (!this.playing) this.onChange(false);
    };
    if (!wasPlaying) this.onChange(true);
  }

  clear() {
    for (const src of this.sources) {
      src.onended = null;
      try {
        src.stop();
      } catch {
        // Already stopped.
      }
    }
    const had = this.playing;
    this.sources.clear();
    this.next = 0;
    if (had) this.onChange(false);
  }
}
