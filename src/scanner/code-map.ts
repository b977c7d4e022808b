/**
 * What the scanner knows about the code around an address: the nearest
 * symbol, the nearest trusted instruction boundary and the section. An ELF
 * file provides it for its own addresses, or, with a load bias, for the
 * addresses where a process mapped it.
 */
import { SHT_NOBITS, type ElfImage } from './elf.js';
import type { FindingSymbol, SweepAnchor } from './findings.js';

/** A section as the scanner sees it: where it lies and whether it holds code. */
export interface CodeSection {
  name: string;
  start: number;
  end: number;
  code: boolean;
}

/** Facts about addresses in one file or mapping. */
export interface CodeMap {
  /** True when section headers exist, so bytes outside code sections are data. */
  readonly hasSections: boolean;
  /** Returns the nearest symbol at or before `address`, or null. */
  symbolAt(address: number): FindingSymbol | null;
  /** Returns the nearest function start at or before `address`, or null. */
  anchorAt(address: number): SweepAnchor | null;
  /** Returns the section holding `address`, or null. */
  sectionAt(address: number): CodeSection | null;
}

/** Returns the index of the last element of a sorted array that is <= value, or -1. */
function lastAtOrBelow(sorted: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/**
 * Returns a CodeMap for an ELF file whose addresses appear shifted by `bias`
 * (0 for the file itself, the load bias for a mapping in a process).
 * Symbols and unwind tables are parsed only when first asked for.
 */
export function elfCodeMap(image: ElfImage, bias = 0): CodeMap {
  let functionAddresses: Float64Array | undefined;
  const functionStarts = () => {
    const { addresses, functions } = image.symbols();
    return (functionAddresses ??= addresses.filter((_, index) => functions[index] === 1));
  };

  const sections: CodeSection[] = image.sections
    .filter((section) => section.address !== 0 && section.size > 0 && section.type !== SHT_NOBITS)
    .map((section) => ({
      name: section.name,
      start: section.address + bias,
      end: section.address + section.size + bias,
      code: section.code,
    }));

  return {
    hasSections: sections.length > 0,

    symbolAt(address) {
      const symbols = image.symbols();
      const local = address - bias;
      let index = lastAtOrBelow(symbols.addresses, local);
      if (index < 0) return null;
      // Aliases share an address; prefer one whose extent covers the address.
      const start = symbols.addresses[index];
      for (let other = index; other >= 0 && symbols.addresses[other] === start; other--) {
        if (local < start + symbols.sizes[other]) index = other;
      }
      return { name: symbols.name(index), offset: local - start, size: symbols.sizes[index] };
    },

    anchorAt(address) {
      const local = address - bias;
      const functions = functionStarts();
      const unwinds = image.functionStarts();
      const symbolIndex = lastAtOrBelow(functions, local);
      const unwindIndex = lastAtOrBelow(unwinds, local);
      const symbol = symbolIndex < 0 ? -1 : functions[symbolIndex];
      const unwind = unwindIndex < 0 ? -1 : unwinds[unwindIndex];
      if (symbol < 0 && unwind < 0) return null;
      return symbol >= unwind
        ? { kind: 'symbol', address: symbol + bias }
        : { kind: 'unwind', address: unwind + bias };
    },

    sectionAt(address) {
      return sections.find((section) => address >= section.start && address < section.end) ?? null;
    },
  };
}
