/** WAV reading and writing; the parts live in wav-decode.ts, wav-encode.ts and wav-writer.ts. */
export { decodeWav, isWav, UNKNOWN_DATA_SIZES, WAVE_FORMAT, type DecodedWav, type WavEncoding } from './wav-decode.js';
export { encodeWav, WAV_OUTPUT_ENCODINGS, type MultiChannelAudio, type WavEncodeOptions, type WavOutputEncoding } from './wav-encode.js';
export { WavFileWriter, type WavFileWriterOptions } from './wav-writer.js';
