/*
 * Assembler macros shared by the gates: the checked PKRU write that every
 * crossing uses (invariant 1 of the design) and the clearing of vector
 * registers that keeps host values away from domain code.
 *
 * WRPKRU (0F 01 EF) writes EAX into PKRU and needs ECX = EDX = 0; RDPKRU
 * needs ECX = 0 and clobbers EDX (Intel SDM vol. 3A, 4.6.2).
 */
#pragma once

/*
 * WRITE_PKRU_CHECKED slot, fail: writes the PKRU value stored at %gs:slot,
 * then proves it twice against that same slot: EAX after the write and a
 * fresh RDPKRU. The slot lies in memory the domain cannot write, so reaching
 * the WRPKRU with another EAX ends at `fail`. Clobbers EAX, ECX and EDX.
 */
.macro WRITE_PKRU_CHECKED slot, fail
    movl    %gs:\slot, %eax
    xorl    %ecx, %ecx
    xorl    %edx, %edx
    wrpkru
    cmpl    %gs:\slot, %eax
    jne     \fail
    rdpkru
    cmpl    %gs:\slot, %eax
    jne     \fail
.endm

/* CLEAR_XMM numbers...: zeroes the XMM registers with these numbers. */
.macro CLEAR_XMM numbers:vararg
.irp number, \numbers
    pxor    %xmm\number, %xmm\number
.endr
.endm
