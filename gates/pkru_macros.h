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

/*
 * CLEAR_WIDE_VECTORS: clears what CLEAR_XMM cannot reach, as far as the CPU
 * has it (GC_VECTOR_CLEAR, filled when the thread block is made; the gate
 * page stays readable under the domain PKRU). VZEROUPPER zeroes bits 128 and
 * up of every YMM/ZMM0-15 register and keeps the double arguments in the low
 * halves; with AVX-512, ZMM16-31 and the mask registers are zeroed too.
 * Clobbers flags only.
 */
.macro CLEAR_WIDE_VECTORS
    testl   $VECTOR_CLEAR_AVX, %gs:GC_VECTOR_CLEAR
    jz      9f
    vzeroupper
    testl   $VECTOR_CLEAR_AVX512, %gs:GC_VECTOR_CLEAR
    jz      9f
.irp number, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    vpxord  %zmm\number, %zmm\number, %zmm\number
.endr
.irp number, 0, 1, 2, 3, 4, 5, 6, 7
    kxorw   %k\number, %k\number, %k\number
.endr
9:
.endm
