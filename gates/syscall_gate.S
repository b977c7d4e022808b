/*
 * The syscall gate: how the sandbox-side runtime asks the host for a system
 * call. Domain code calls it like a C function,
 *     long keycell_gate_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 * with a6 on the domain stack. The gate writes the host PKRU and checks it,
 * leaves the domain's stack and thread pointer, calls the monitor
 * (addon/syscall_gate.cc) on the host stack below the frame of the gate call
 * in progress, then writes the domain PKRU back, checks it, clears every
 * register that could hold a host value and returns the result to the domain.
 *
 * Jumping into the middle gains nothing: each WRPKRU is checked against the
 * gate page (which the domain can read but not write), and every step after
 * the first check touches the key-0 state page, which faults under the domain
 * PKRU. The monitor is reached only with the host PKRU in force and only while
 * the thread is inside a domain call.
 */
#include "../addon/gate_layout.h"
#include "pkru_macros.h"

    .text

/* SYSCALL_GATE pku: the body, with or without the PKRU switch (isolation 'none'). */
.macro SYSCALL_GATE pku
    /* WRPKRU needs EAX, ECX and EDX: a2 and a3 wait in R10 and R11. */
    movq    %rdx, %r10
    movq    %rcx, %r11
.if \pku
    /* Invariant 1: the host PKRU of this call, proved twice. */
    WRITE_PKRU_CHECKED GC_HOST_PKRU, keycell_syscall_gate_failed
.endif
    /* Only a thread inside a domain call comes through; from here on a fault
     * is the host's, so the thread no longer counts as in the domain. */
    cmpq    $1, %gs:TS_IN_DOMAIN
    jne     keycell_syscall_gate_failed
    movq    $0, %gs:TS_IN_DOMAIN
    movb    $0, %gs:GC_SELECTOR

    movq    8(%rsp), %rax
    movq    %rsp, %gs:TS_SYSCALL_RSP
    rdfsbase %rdx
    movq    %rdx, %gs:TS_SYSCALL_FSBASE
    movq    %gs:TS_HOST_FSBASE, %rdx
    wrfsbase %rdx

    /* The host stack below the gate call's frame, 16-byte aligned at the call. */
    movq    %gs:TS_HOST_RSP, %rsp
    andq    $-16, %rsp
    subq    $8, %rsp
    pushq   %rax
    movq    %r10, %rdx
    movq    %r11, %rcx
    cld
    call    keycell_syscall_from_domain
    movq    %rax, %gs:TS_SYSCALL_RESULT

    movq    %gs:TS_SYSCALL_FSBASE, %rdx
    wrfsbase %rdx
    movq    %gs:TS_SYSCALL_RSP, %rsp
    movb    $1, %gs:GC_SELECTOR
    movq    $1, %gs:TS_IN_DOMAIN
    movq    %gs:TS_SYSCALL_RESULT, %r11
.if \pku
    WRITE_PKRU_CHECKED GC_DOMAIN_PKRU, keycell_syscall_gate_failed
.endif
    /* Address secrecy: the monitor's caller-saved registers go; RBX, RBP and
     * R12-R15 are the domain's own, preserved by the monitor as the ABI says. */
    movq    %r11, %rax
    xorl    %ecx, %ecx
    xorl    %edx, %edx
    xorl    %esi, %esi
    xorl    %edi, %edi
    xorl    %r8d, %r8d
    xorl    %r9d, %r9d
    xorl    %r10d, %r10d
    xorl    %r11d, %r11d
    CLEAR_XMM 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    ret
.endm

    .globl  keycell_gate_syscall_pku
    .hidden keycell_gate_syscall_pku
    .type   keycell_gate_syscall_pku, @function
    .p2align 4
keycell_gate_syscall_pku:
    SYSCALL_GATE 1
    .size   keycell_gate_syscall_pku, .-keycell_gate_syscall_pku

    .globl  keycell_gate_syscall_open
    .hidden keycell_gate_syscall_open
    .type   keycell_gate_syscall_open, @function
    .p2align 4
keycell_gate_syscall_open:
    SYSCALL_GATE 0
    .size   keycell_gate_syscall_open, .-keycell_gate_syscall_open

/*
 * keycell_sigsys_resume: where a system call that domain code made with a
 * raw SYSCALL instruction comes back, after Syscall User Dispatch turned it
 * into SIGSYS and the monitor served it (addon/signals.cc). rt_sigreturn lands
 * here with whatever PKRU the signal frame held, and that frame lay in memory
 * the domain can write: so nothing is taken from it. The host PKRU comes from
 * the gate page and is checked; the domain's registers come from the key-0
 * state page; then the selector goes back to block, the domain PKRU is
 * written and checked, and the last registers and flags come from the gate
 * page. Flags go through the domain stack below its red zone.
 */
    .globl  keycell_sigsys_resume
    .hidden keycell_sigsys_resume
    .type   keycell_sigsys_resume, @function
    .p2align 4
keycell_sigsys_resume:
    cmpl    $0, %gs:GC_DOMAIN_PKRU
    je      1f
    WRITE_PKRU_CHECKED GC_HOST_PKRU, keycell_syscall_gate_failed
1:
    cmpq    $1, %gs:TS_IN_DOMAIN
    jne     keycell_syscall_gate_failed
    movq    %gs:TS_RESUME_RBX, %rbx
    movq    %gs:TS_RESUME_RBP, %rbp
    movq    %gs:TS_RESUME_RSI, %rsi
    movq    %gs:TS_RESUME_RDI, %rdi
    movq    %gs:TS_RESUME_R8, %r8
    movq    %gs:TS_RESUME_R9, %r9
    movq    %gs:TS_RESUME_R10, %r10
    movq    %gs:TS_RESUME_R11, %r11
    movq    %gs:TS_RESUME_R12, %r12
    movq    %gs:TS_RESUME_R13, %r13
    movq    %gs:TS_RESUME_R14, %r14
    movq    %gs:TS_RESUME_R15, %r15
    movq    %gs:TS_RESUME_RSP, %rsp
    movb    $1, %gs:GC_SELECTOR
    cmpl    $0, %gs:GC_DOMAIN_PKRU
    je      2f
    WRITE_PKRU_CHECKED GC_DOMAIN_PKRU, keycell_syscall_gate_failed
2:
    movq    %gs:GC_RESUME_RAX, %rax
    movq    %gs:GC_RESUME_RCX, %rcx
    movq    %gs:GC_RESUME_RDX, %rdx
    leaq    -136(%rsp), %rsp
    pushq   %gs:GC_RESUME_FLAGS
    popfq
    leaq    136(%rsp), %rsp
    jmp     *%gs:GC_RESUME_RIP
    .size   keycell_sigsys_resume, .-keycell_sigsys_resume

keycell_syscall_gate_failed:
    ud2

    .section .note.GNU-stack, "", @progbits
