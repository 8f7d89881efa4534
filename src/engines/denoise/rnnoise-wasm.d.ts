// The package ships a raw Emscripten factory without typings; rnnoise.ts declares the exports it calls.
declare module '@echogarden/rnnoise-wasm' {
  const init: (moduleArg?: Record<string, unknown>) => Promise<unknown>;
  export default init;
}
