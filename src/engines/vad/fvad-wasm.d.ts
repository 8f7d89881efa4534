// The package ships a raw Emscripten factory without typings; webrtc.ts declares the exports it calls.
declare module '@echogarden/fvad-wasm' {
  const init: (moduleArg?: Record<string, unknown>) => Promise<unknown>;
  export default init;
}
