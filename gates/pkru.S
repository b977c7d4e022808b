/*
 * PKRU access for trusted host code.
 *
 * PKRU is a per-thread 32-bit register holding two bits per protection key:
 * bit 2k is access-disable (AD) and bit 2k+1 is write-disable (WD) for key k.
 * RDPKRU (0F 01 EE) and WRPKRU (0F 01 EF) both require ECX = 0; WRPKRU also
 * requires EDX = 0, or the CPU raises #GP. See the Intel SDM, vol. 3A,
 * section 4.6.2 "Protection Keys".
 *
 * These primitives serve host-side code only (the machine probe and the
 * self-tests). The call gates that cross into domains live beside this file.
 */

    .text

/* uint32_t keycell_pkru_read(void) */
    .globl  keycell_pkru_read
    .hidden keycell_pkru_read
    .type   keycell_pkru_read, @function
    .p2align 4
keycell_pkru_read:
    /* RDPKRU faults unless ECX is zero; it also clobbers EDX. */
    xorl    %ecx, %ecx
    rdpkru
    ret
    .size   keycell_pkru_read, .-keycell_pkru_read

/*
 * void keycell_pkru_write_checked(uint32_t value)
 *
 * Writes PKRU and proves the write: EAX must still equal the requested value
 * and a fresh RDPKRU must read it back. Any mismatch means the instruction was
 * reached with other register contents than this function set up, so the
 * thread stops on UD2 instead of running on with unknown rights (invariant:
 * every WRPKRU is followed at once by a check of what it wrote).
 */
    .globl  keycell_pkru_write_checked
    .hidden keycell_pkru_write_checked
    .type   keycell_pkru_write_checked, @function
    .p2align 4
keycell_pkru_write_checked:
    movl    %edi, %eax
    xorl    %ecx, %ecx
    xorl    %edx, %edx
    wrpkru
    cmpl    %edi, %eax
    jne     1f
    rdpkru
    cmpl    %edi, %eax
    jne     1f
    ret
1:
    ud2
    .size   keycell_pkru_write_checked, .-keycell_pkru_write_checked

    .section .note.GNU-stack, "", @progbits
