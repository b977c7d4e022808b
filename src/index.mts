/** ES module entry: the same API as the CommonJS build, re-exported by name. */
export * from './index.js';
