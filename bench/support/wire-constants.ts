/** The telephone frame grid the simulated callers keep to. */
export const FRAME_MS_PERIOD = 20;
/** Caller audio rate on the phone side (AudioSocket() slin, Twilio µ-law). */
export const CALLER_RATE = 8_000;
export const CALLER_FRAME_SAMPLES = (CALLER_RATE * FRAME_MS_PERIOD) / 1000;
/** The ARI user and Stasis app the emulated Asterisk (rtp transport) accepts and palabre's ARI app uses. */
export const BENCH_ARI = { username: 'palabre', password: 'bench-secret', app: 'palabre' } as const;
