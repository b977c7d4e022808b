/** Constants of runtime/runtime.h that the loader writes into each domain's runtime block. */
export const KEYCELL_RUNTIME_MAGIC = 0x006c6c656379656bn; // "keycell"
export const KEYCELL_RUNTIME_VERSION = 1;
