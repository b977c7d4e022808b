// PKRU and protection-key primitives shared by the addon's modules.
#pragma once

#include <cstdint>

extern "C" {
// Reads the calling thread's PKRU (gates/pkru.S). Only valid where OSPKE is set.
uint32_t keycell_pkru_read(void);
// Writes PKRU and checks the result, stopping the thread on mismatch (gates/pkru.S).
void keycell_pkru_write_checked(uint32_t value);
}

namespace keycell {

// Bits of one key inside PKRU: access-disable is bit 2k, write-disable bit 2k+1.
constexpr uint32_t PkruAccessDisable(int pkey) { return 1u << (2 * pkey); }
constexpr uint32_t PkruWriteDisable(int pkey) { return 1u << (2 * pkey + 1); }

// True when the CPU has PKU and the kernel enabled it (CPUID.7.0:ECX.OSPKE).
bool OsEnabledPku();

}  // namespace keycell
