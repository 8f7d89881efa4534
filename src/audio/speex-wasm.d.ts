// The package ships a raw Emscripten factory without typings; only the parts palabre calls are declared.
declare module '@echogarden/speex-resampler-wasm/simd' {
  const init: (moduleArg?: Record<string, unknown>) => Promise<import('./speex-module.js').SpeexModule>;
  export default init;
}
declare module '@echogarden/speex-resampler-wasm' {
  const init: (moduleArg?: Record<string, unknown>) => Promise<import('./speex-module.js').SpeexModule>;
  export default init;
}
