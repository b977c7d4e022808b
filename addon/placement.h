// Placement of keycell's own mappings (domain memory, gate blocks, signal
// stacks) at random addresses far from everything the host has mapped.
#pragma once

#include <cstddef>
#include <string>

namespace keycell {

// Reserves `size` bytes (a multiple of the page size) as PROT_NONE at a random
// address such that no other mapping lies within a moat of 1 GiB on either
// side; the moat stays reserved until ReleaseAwayFromHost. Returns nullptr and
// sets `error` when no such place was found.
void* ReserveAwayFromHost(size_t size, std::string* error);

// Unmaps a reservation made by ReserveAwayFromHost, moat included.
void ReleaseAwayFromHost(void* start, size_t size);

}  // namespace keycell
