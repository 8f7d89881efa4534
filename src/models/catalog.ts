/**
 * Models palabre recommends, with where they come from and which files the
 * engines need inside them. Checksums are listed only where known for certain;
 * a model without one is still verified for size and content after download.
 */

export type ModelKind = 'stt-streaming' | 'stt-offline' | 'tts' | 'vad';

/** How sherpa-onnx loads a speech recogniser; the role names match `files`. */
export type SherpaRecognizer =
  | { type: 'online-transducer'; lowercase: boolean }
  | { type: 'offline-whisper'; lowercase: boolean };

export interface CatalogModel {
  id: string;
  kind: ModelKind;
  /** Language tags recognised or spoken; 'multi' as well for multilingual models. */
  languages: string[];
  description: string;
  /** Upstream download: a k2-fsa sherpa-onnx release asset. */
  url: string;
  /** `tar.bz2`: an archive to unpack; `file`: a single file used as is. */
  format: 'tar.bz2' | 'file';
  /** Folder inside the archive that becomes the model directory ('' when the files sit at its top). */
  root: string;
  /** Role → path inside the model directory, for every file the engine opens. */
  files: Record<string, string>;
  /** Download size in bytes, where known; shown by `models list`, not enforced. */
  bytes?: number;
  /** SHA-256 of the download, where known for certain; verified when set. */
  sha256?: string;
  license: string;
  sherpa?: SherpaRecognizer;
}

const ASR = 'https://github.com/k2-fsa/sherpa-onnx/releases/download/asr-models';
const TTS = 'https://github.com/k2-fsa/sherpa-onnx/releases/download/tts-models';

function zipformer(id: string, archive: string, stem: string, languages: string[], description: string, license: string): CatalogModel {
  return {
    id,
    kind: 'stt-streaming',
    languages,
    description,
    url: `${ASR}/${archive}.tar.bz2`,
    format: 'tar.bz2',
    root: archive,
    // int8 encoder and joiner with the float decoder: the combination upstream recommends for CPU.
    files: { encoder: `encoder-${stem}.int8.onnx`, decoder: `decoder-${stem}.onnx`, joiner: `joiner-${stem}.int8.onnx`, tokens: 'tokens.txt' },
    license,
    sherpa: { type: 'online-transducer', lowercase: true },
  };
}

function whisper(size: 'tiny' | 'base'): CatalogModel {
  return {
    id: `whisper-${size}`,
    kind: 'stt-offline',
    languages: ['multi', 'en', 'fr', 'de', 'es', 'it', 'pt', 'nl'],
    description: `OpenAI Whisper ${size} (multilingual, int8), offline: transcribes a whole utterance at once`,
    url: `${ASR}/sherpa-onnx-whisper-${size}.tar.bz2`,
    format: 'tar.bz2',
    root: `sherpa-onnx-whisper-${size}`,
    files: { encoder: `${size}-encoder.int8.onnx`, decoder: `${size}-decoder.int8.onnx`, tokens: `${size}-tokens.txt` },
    license: 'MIT (OpenAI Whisper weights)',
    sherpa: { type: 'offline-whisper', lowercase: false },
  };
}

export const CATALOG: readonly CatalogModel[] = [
  zipformer(
    'zipformer-en-2023-06-26',
    'sherpa-onnx-streaming-zipformer-en-2023-06-26',
    'epoch-99-avg-1-chunk-16-left-128',
    ['en'],
    'Streaming zipformer transducer, English (LibriSpeech + GigaSpeech): real-time partials',
    'Apache-2.0',
  ),
  zipformer(
    'zipformer-en-20M-2023-02-17',
    'sherpa-onnx-streaming-zipformer-en-20M-2023-02-17',
    'epoch-99-avg-1',
    ['en'],
    'Small (20M parameters) streaming zipformer transducer, English: fastest, for small machines',
    'Apache-2.0',
  ),
  zipformer(
    'zipformer-fr-2023-04-14',
    'sherpa-onnx-streaming-zipformer-fr-2023-04-14',
    'epoch-29-avg-9-with-averaged-model',
    ['fr'],
    'Streaming zipformer transducer, French (Common Voice): real-time partials',
    'see the upstream model card (trained on Common Voice, CC0 data)',
  ),
  whisper('tiny'),
  whisper('base'),
  {
    id: 'silero-vad',
    kind: 'vad',
    languages: ['multi'],
    description: 'Silero voice activity detector for sherpa-onnx (the Silero engine already ships one through npm)',
    url: `${ASR}/silero_vad.onnx`,
    format: 'file',
    root: '',
    files: { model: 'silero_vad.onnx' },
    license: 'MIT',
  },
  {
    id: 'piper-fr-siwis-medium',
    kind: 'tts',
    languages: ['fr'],
    description: 'Piper (VITS) French female voice "siwis", medium quality, for sherpa-onnx text-to-speech',
    url: `${TTS}/vits-piper-fr_FR-siwis-medium.tar.bz2`,
    format: 'tar.bz2',
    root: 'vits-piper-fr_FR-siwis-medium',
    files: { model: 'fr_FR-siwis-medium.onnx', tokens: 'tokens.txt', dataDir: 'espeak-ng-data' },
    bytes: 67_207_459,
    license: 'CC-BY-4.0 (SIWIS data; see the Piper voice model card)',
  },
];

/** The file name a download is saved and mirrored under. */
export function downloadName(model: CatalogModel): string {
  return new URL(model.url).pathname.split('/').pop() ?? `${model.id}.${model.format}`;
}

/**
 * Where to fetch a model from. With a mirror (`models.baseUrl`), every model
 * is fetched as `${baseUrl}/${file name of the upstream URL}`: a flat folder
 * holding the release assets under their upstream names.
 */
export function downloadUrl(model: CatalogModel, baseUrl?: string): string {
  if (!baseUrl) return model.url;
  return `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(downloadName(model))}`;
}
