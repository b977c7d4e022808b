/**
 * A typed wrapper around capstone-wasm, the only module that touches it.
 *
 * capstone-wasm ships its types for the `import` condition only, so under
 * Node16 module resolution TypeScript cannot see them from CommonJS; this
 * file states the small part of its API keycell uses instead. Its WebAssembly
 * heap is fixed at 16 MiB, so one call decodes at most `MAX_WINDOW` bytes. It
 * stops without a word at the first byte sequence it cannot decode, and
 * throws when that is the very first one; both reach the caller here as a
 * list that ends early, possibly empty.
 */

/** One instruction as capstone-wasm returns it. */
interface CapstoneInstruction {
  address: number | bigint;
  size: number;
  bytes: Uint8Array;
  mnemonic: string;
  opStr: string;
}

interface CapstoneHandle {
  disasm(data: Uint8Array, options?: { address?: number; count?: number }): CapstoneInstruction[];
  close(): void;
}

interface CapstoneModule {
  Capstone: new (arch: number, mode: number) => CapstoneHandle;
  Const: { CS_ARCH_X86: number; CS_MODE_64: number };
  loadCapstone(): Promise<void>;
}

const capstone = require('capstone-wasm') as CapstoneModule;

/** How capstone-wasm's error message begins when not even one instruction decodes. */
const NOTHING_DECODED = 'Failed to disassemble';

/** Bytes passed to one decode call: well inside the fixed WebAssembly heap. */
export const MAX_WINDOW = 32 * 1024;

/** A decoded x86-64 instruction. */
export interface Instruction {
  address: number;
  size: number;
  bytes: Uint8Array;
  mnemonic: string;
  /** Mnemonic and operands in Intel syntax, e.g. `mov eax, 0xef010f`. */
  text: string;
}

/** An x86-64 decoder over capstone-wasm; get one from `loadDisassembler()`. */
export class Disassembler {
  constructor(private readonly handle: CapstoneHandle) {}

  /**
   * Decodes `bytes` as if they sat at `address`, from the first byte on, up
   * to the end or to the first byte sequence that is no valid instruction.
   * `count` stops after that many instructions.
   */
  decode(bytes: Uint8Array, address: number, count = 0): Instruction[] {
    if (bytes.length > MAX_WINDOW) {
      throw new RangeError(`decode window of ${bytes.length} bytes exceeds ${MAX_WINDOW}`);
    }
    let decoded: CapstoneInstruction[];
    try {
      decoded = this.handle.disasm(bytes, { address, count });
    } catch (error) {
      if (error instanceof Error && error.message.startsWith(NOTHING_DECODED)) return [];
      throw error;
    }
    return decoded.map((raw) => ({
      address: Number(raw.address),
      size: raw.size,
      bytes: raw.bytes,
      mnemonic: raw.mnemonic,
      text: raw.opStr ? `${raw.mnemonic} ${raw.opStr}` : raw.mnemonic,
    }));
  }
}

let loading: Promise<Disassembler> | undefined;

/** Resolves to the process-wide decoder, compiling the WebAssembly module on first use. */
export function loadDisassembler(): Promise<Disassembler> {
  loading ??= capstone.loadCapstone().then(
    () => {
      const { CS_ARCH_X86, CS_MODE_64 } = capstone.Const;
      return new Disassembler(new capstone.Capstone(CS_ARCH_X86, CS_MODE_64));
    },
    (error: unknown) => {
      loading = undefined; // let a later call try again
      throw error;
    },
  );
  return loading;
}
