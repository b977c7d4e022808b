/*
 * First instructions of keycell's handlers for SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE and SIGTRAP.
 *
 * On handler entry the kernel has set PKRU to 0x55555554 (only key 0
 * accessible) whatever the interrupted code ran with, and left FS and GS base
 * as the interrupted code had them. On a thread that enters domains the frame
 * sits on keycell's alternate signal stack, whose key that PKRU denies, and FS
 * base may still be the domain's thread pointer. So before anything touches
 * the stack or thread-local storage this prologue writes the thread's signal
 * PKRU (key 0 plus the signal-stack key), checks it, and puts the host FS base
 * back. Then C++ decides (keycell_signal_dispatch), and this code, not a
 * return address on the frame, performs rt_sigreturn.
 *
 * Threads without a gate block (GS base 0) run the dispatcher directly: their
 * frames are on their own stacks and they never ran domain code.
 */
#include "../addon/gate_layout.h"
#include "pkru_macros.h"

#define SYS_RT_SIGRETURN 15

    .text
    .globl  keycell_signal_entry
    .hidden keycell_signal_entry
    .type   keycell_signal_entry, @function
    .p2align 4
keycell_signal_entry:
    /* GS base is the trusted way to this thread's block (invariant 4); the
     * block names itself, so a foreign GS base is not mistaken for one. */
    rdgsbase %rax
    testq   %rax, %rax
    jz      .Ldispatch
    cmpq    %rax, %gs:TS_SELF
    jne     .Ldispatch

    /* Invariant 1 and 7: establish the signal PKRU from the key-0 page
     * before the first push, and prove it. RDX (the ucontext) waits in R8. */
    cmpl    $0, %gs:TS_PKU_AVAILABLE
    je      .Lhost_thread_pointer
    movq    %rdx, %r8
    WRITE_PKRU_CHECKED TS_SIGNAL_PKRU, .Lcheck_failed
    movq    %r8, %rdx

.Lhost_thread_pointer:
    /* Thread-local storage and the stack protector read %fs: give the C++
     * dispatcher the host thread pointer and keep the interrupted one. */
    rdfsbase %rax
    movq    %rax, %gs:TS_SIGNAL_FSBASE
    movq    %gs:TS_HOST_FSBASE, %rax
    testq   %rax, %rax
    jz      1f
    wrfsbase %rax
1:
    subq    $8, %rsp
    call    keycell_signal_dispatch
    addq    $8, %rsp
    movq    %gs:TS_SIGNAL_FSBASE, %rax
    wrfsbase %rax
    jmp     .Lsigreturn

.Ldispatch:
    subq    $8, %rsp
    call    keycell_signal_dispatch
    addq    $8, %rsp

.Lsigreturn:
    /* RSP points at the frame's return address, which the kernel wrote on a
     * stack domain code can reach; skip it and return from the signal here. */
    addq    $8, %rsp
    movl    $SYS_RT_SIGRETURN, %eax
    syscall
    ud2

.Lcheck_failed:
    /* Every signal is blocked inside the handler, so this UD2 ends the process. */
    ud2
    .size   keycell_signal_entry, .-keycell_signal_entry

    .section .note.GNU-stack, "", @progbits
