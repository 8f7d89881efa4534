/**
 * The OpenAI Realtime wire protocol, as far as a phone call uses it: the
 * client events palabre sends, the server events it reads, and the session
 * settings in the GA shape that the official `openai` client declares
 * (`session.type: 'realtime'`, `audio.input` / `audio.output`). Servers still
 * speaking the beta names (`response.audio.delta`…) are read as well:
 * normalizeEventType maps them to the GA names.
 */

/** The audio formats of the GA API; `audio/pcm` is 24 kHz mono 16-bit little-endian. */
export type RealtimeAudioFormat = { type: 'audio/pcm'; rate: 24000 } | { type: 'audio/pcmu' } | { type: 'audio/pcma' };

export interface ServerVadSettings {
  type: 'server_vad';
  threshold?: number;
  silence_duration_ms?: number;
  prefix_padding_ms?: number;
  create_response?: boolean;
  interrupt_response?: boolean;
}

export interface RealtimeFunctionTool {
  type: 'function';
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface RealtimeSessionSettings {
  type: 'realtime';
  model?: string;
  instructions?: string;
  output_modalities?: Array<'audio' | 'text'>;
  audio?: {
    input?: { format?: RealtimeAudioFormat; transcription?: { model?: string; language?: string }; turn_detection?: ServerVadSettings | null };
    output?: { format?: RealtimeAudioFormat; voice?: string };
  };
  tools?: RealtimeFunctionTool[];
}

export type RealtimeClientEvent =
  | { type: 'session.update'; event_id?: string; session: RealtimeSessionSettings }
  | { type: 'input_audio_buffer.append'; event_id?: string; audio: string }
  | { type: 'input_audio_buffer.commit'; event_id?: string }
  | { type: 'input_audio_buffer.clear'; event_id?: string }
  | { type: 'conversation.item.truncate'; event_id?: string; item_id: string; content_index: number; audio_end_ms: number }
  | { type: 'response.create'; event_id?: string; response?: { instructions?: string } }
  | { type: 'response.cancel'; event_id?: string; response_id?: string };

export interface RealtimeUsage {
  total_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  input_token_details?: { audio_tokens?: number; text_tokens?: number; cached_tokens?: number };
  output_token_details?: { audio_tokens?: number; text_tokens?: number };
}

export interface RealtimeResponseInfo {
  id?: string;
  status?: 'completed' | 'cancelled' | 'failed' | 'incomplete' | 'in_progress';
  status_details?: { type?: string; reason?: string; error?: { type?: string; code?: string; message?: string } } | null;
  usage?: RealtimeUsage;
}

export interface RealtimeErrorBody {
  type: string;
  code?: string | null;
  message: string;
  param?: string | null;
  event_id?: string | null;
}

interface Ev {
  event_id: string;
}

/** Server events palabre acts on (GA names); any other event arrives as RealtimeOtherEvent. */
export type RealtimeServerEvent =
  | (Ev & { type: 'session.created' | 'session.updated'; session: RealtimeSessionSettings })
  | (Ev & { type: 'input_audio_buffer.speech_started'; audio_start_ms: number; item_id: string })
  | (Ev & { type: 'input_audio_buffer.speech_stopped'; audio_end_ms: number; item_id: string })
  | (Ev & { type: 'input_audio_buffer.committed'; item_id: string; previous_item_id?: string | null })
  | (Ev & { type: 'conversation.item.created' | 'conversation.item.added'; item: { id?: string; type?: string; role?: string } })
  | (Ev & { type: 'conversation.item.input_audio_transcription.completed'; item_id: string; content_index: number; transcript: string })
  | (Ev & { type: 'conversation.item.truncated'; item_id: string; content_index: number; audio_end_ms: number })
  | (Ev & { type: 'response.created' | 'response.done'; response: RealtimeResponseInfo })
  | (Ev & { type: 'response.output_item.added'; response_id: string; output_index: number; item: { id?: string; type?: string; role?: string } })
  | (Ev & { type: 'response.output_audio.delta'; response_id: string; item_id: string; output_index: number; content_index: number; delta: string })
  | (Ev & { type: 'response.output_audio.done'; response_id: string; item_id: string; output_index: number; content_index: number })
  | (Ev & { type: 'response.output_audio_transcript.delta'; response_id: string; item_id: string; output_index: number; content_index: number; delta: string })
  | (Ev & { type: 'response.output_audio_transcript.done'; response_id: string; item_id: string; output_index: number; content_index: number; transcript: string })
  | (Ev & { type: 'error'; error: RealtimeErrorBody });

export interface RealtimeOtherEvent {
  type: string;
  event_id?: string;
  [key: string]: unknown;
}

const BETA_NAMES: Record<string, string> = {
  'response.audio.delta': 'response.output_audio.delta',
  'response.audio.done': 'response.output_audio.done',
  'response.audio_transcript.delta': 'response.output_audio_transcript.delta',
  'response.audio_transcript.done': 'response.output_audio_transcript.done',
  'response.text.delta': 'response.output_text.delta',
  'response.text.done': 'response.output_text.done',
};

/** The GA name of a server event (beta names mapped, others unchanged). */
export function normalizeEventType(type: string): string {
  return BETA_NAMES[type] ?? type;
}

/** The PCM sample rate of the Realtime API's `audio/pcm` format. */
export const REALTIME_RATE = 24_000;
