/* global registerProcessor, AudioWorkletProcessor, sampleRate */
/**
 * Runs on the audio thread: gathers the microphone's 128-sample render quanta
 * into blocks of about 20 ms and hands them to the page, which downsamples
 * and sends them. Nothing beyond copying happens here.
 */
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.blockSize = Math.round(sampleRate / 50);
    this.block = new Float32Array(this.blockSize);
    this.fill = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let offset = 0;
    while (offset < channel.length) {
      const take = Math.min(this.blockSize - this.fill, channel.length - offset);
      this.block.set(channel.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === this.blockSize) {
        this.port.postMessage(this.block, [this.block.buffer]);
        this.block = new Float32Array(this.blockSize);
        this.fill = 0;
      }
    }
    return true;
  }
}

registerProcessor('palabre-capture', CaptureProcessor);
