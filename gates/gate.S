/*
 * Call gates: the only way host code runs code inside a domain.
 *
 * A call is staged by C++ in the thread's gate block (addon/gate_layout.h),
 * found through GS base. The entry gate saves the host's callee-saved
 * registers, stack pointer, FS base, MXCSR and x87 control word, records the
 * thread's actual PKRU (V8 toggles its own key's write-disable bit, so PKRU is
 * never assumed), moves to the domain stack and thread pointer, writes the
 * domain PKRU, checks it, clears every register that is not an argument and
 * jumps to the target. The target returns into the exit gate, which writes the
 * saved PKRU back, checks it and restores the host state.
 *
 * WRPKRU (0F 01 EF) writes EAX into PKRU and needs ECX = EDX = 0; RDPKRU needs
 * ECX = 0 and clobbers EDX (Intel SDM vol. 3A, 4.6.2). Every WRPKRU here is
 * checked against a value in the gate page, which domains can read but not
 * write, so jumping into a gate with a chosen EAX gains nothing: the check
 * fails and the thread stops on UD2, which the fault handler turns into an
 * abort because it lies inside the gate text.
 *
 * FS base is written with WRFSBASE (FSGSBASE, required by keycell). GS base is
 * never changed here.
 */
#include "../addon/gate_layout.h"
#include "pkru_macros.h"

/* x87 status word: IE, DE, ZE, OE, UE, PE, stack fault and error summary. */
#define X87_EXCEPTION_FLAGS 0x00ff
/* EFLAGS: TF (bit 8), DF (10), NT (14), AC (18). */
#define EFLAGS_HOST_MUST_CLEAR 0x44500
/* EFLAGS with only IF and the always-one bit 1 set, as user mode runs. */
#define EFLAGS_CLEAN 0x202

    .text
    /* Hidden: these symbols are reached RIP-relative from inside the addon. */
    .globl  keycell_gate_text_start
    .hidden keycell_gate_text_start
keycell_gate_text_start:

/*
 * GATE_SAVE_HOST: keeps host state out of the domain's reach by storing it in
 * the key-0 state page, which the domain PKRU denies.
 */
.macro GATE_SAVE_HOST
    movq    %rbx, %gs:TS_RBX
    movq    %rbp, %gs:TS_RBP
    movq    %r12, %gs:TS_R12
    movq    %r13, %gs:TS_R13
    movq    %r14, %gs:TS_R14
    movq    %r15, %gs:TS_R15
    movq    %rsp, %gs:TS_HOST_RSP
    stmxcsr %gs:TS_MXCSR
    fnstcw  %gs:TS_FPUCW
    rdfsbase %rax
    movq    %rax, %gs:TS_HOST_FSBASE
.endm

/*
 * GATE_SWITCH_TO_DOMAIN: moves to the domain's thread pointer and stack.
 */
.macro GATE_SWITCH_TO_DOMAIN
    /* Invariant 5: from here until the exit gate every system call of this
     * thread traps (Syscall User Dispatch); the selector lies in the gate
     * page, which domain code can read but not write. */
    movb    $1, %gs:GC_SELECTOR
    movq    $1, %gs:TS_IN_DOMAIN
    movq    %gs:TS_DOMAIN_FSBASE, %rax
    wrfsbase %rax
    movq    %gs:TS_DOMAIN_RSP, %rsp
.endm

/*
 * GATE_LOAD_ARGUMENTS: the arguments come from the key-0 state page, so they
 * are loaded before PKRU denies key 0. RDX and RCX must be zero for WRPKRU:
 * their values wait in R10 and R11 until after the check.
 */
.macro GATE_LOAD_ARGUMENTS
    movsd   %gs:TS_FLOAT_ARGS+0x00, %xmm0
    movsd   %gs:TS_FLOAT_ARGS+0x08, %xmm1
    movsd   %gs:TS_FLOAT_ARGS+0x10, %xmm2
    movsd   %gs:TS_FLOAT_ARGS+0x18, %xmm3
    movsd   %gs:TS_FLOAT_ARGS+0x20, %xmm4
    movsd   %gs:TS_FLOAT_ARGS+0x28, %xmm5
    movq    %gs:TS_ARGS+0x00, %rdi
    movq    %gs:TS_ARGS+0x08, %rsi
    movq    %gs:TS_ARGS+0x10, %r10
    movq    %gs:TS_ARGS+0x18, %r11
    movq    %gs:TS_ARGS+0x20, %r8
    movq    %gs:TS_ARGS+0x28, %r9
.endm

/*
 * GATE_CLEAR_AND_ENTER: no host value may reach the domain (address secrecy),
 * so every general register that is not an argument is zeroed, as are the
 * vector registers above the six double arguments, the upper halves of all
 * of them, and with AVX-512 ZMM16-31 and the mask registers. DF is cleared
 * as the ABI requires.
 *
 * The target is entered with CALL, through the gate page (readable under the
 * domain PKRU): the return address it pushes on the domain stack is the exit
 * gate, and call and return pair up in the CPU's return predictor, which a
 * pushed address and RET would not. The domain sees only the address of the
 * gate text, which it must be able to return to anyway.
 *
 * TODO(keycell): the x87 data registers are not cleared: values host code
 * left there (long double arithmetic) can be read back with FXSAVE.
 */
.macro GATE_CLEAR_AND_ENTER
    movq    %r10, %rdx
    movq    %r11, %rcx
    xorl    %eax, %eax
    xorl    %ebx, %ebx
    xorl    %ebp, %ebp
    xorl    %r10d, %r10d
    xorl    %r11d, %r11d
    xorl    %r12d, %r12d
    xorl    %r13d, %r13d
    xorl    %r14d, %r14d
    xorl    %r15d, %r15d
    CLEAR_XMM 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    CLEAR_WIDE_VECTORS
    cld
    call    *%gs:GC_TARGET
.endm

/*
 * void keycell_gate_call_pku(void)
 *
 * Enters the staged domain call with the domain PKRU in force.
 */
    .globl  keycell_gate_call_pku
    .hidden keycell_gate_call_pku
    .type   keycell_gate_call_pku, @function
    .p2align 4
keycell_gate_call_pku:
    GATE_SAVE_HOST

    /* Invariant 6: the host PKRU is read, never assumed. It is stored while
     * the host PKRU still allows writes to the gate page. */
    xorl    %ecx, %ecx
    rdpkru
    movl    %eax, %gs:GC_HOST_PKRU

    GATE_SWITCH_TO_DOMAIN
    GATE_LOAD_ARGUMENTS

    /* Invariant 1: write the domain PKRU, then prove it against the gate
     * page (readable, not writable, under the domain PKRU) twice: EAX after
     * the write and a fresh RDPKRU. */
    WRITE_PKRU_CHECKED GC_DOMAIN_PKRU, keycell_gate_check_failed

    GATE_CLEAR_AND_ENTER
    jmp     keycell_gate_exit
    .size   keycell_gate_call_pku, .-keycell_gate_call_pku

/*
 * void keycell_gate_call_open(void)
 *
 * The same crossing for domains created with isolation 'none': stack, thread
 * pointer and registers switch, PKRU does not (the CPU may lack it).
 */
    .globl  keycell_gate_call_open
    .hidden keycell_gate_call_open
    .type   keycell_gate_call_open, @function
    .p2align 4
keycell_gate_call_open:
    GATE_SAVE_HOST
    GATE_SWITCH_TO_DOMAIN
    GATE_LOAD_ARGUMENTS
    GATE_CLEAR_AND_ENTER
    /* The open gate's return address: falls through into the exit gate. */
    .size   keycell_gate_call_open, .-keycell_gate_call_open

/*
 * keycell_gate_exit: where every domain call comes back, by RET from the
 * target or, after a fault, by rt_sigreturn into a context the signal handler
 * rewrote. Nothing the domain left in registers, flags or on its stack is
 * trusted: the stack is not touched before the host RSP is restored.
 */
    .globl  keycell_gate_exit
    .hidden keycell_gate_exit
    .type   keycell_gate_exit, @function
keycell_gate_exit:
    /* DF set by the domain would make host string operations run backwards. */
    cld
    movq    %rax, %rdi

    /* Invariant 1: restore the host PKRU saved at entry. The value comes
     * from the gate page, which the domain could read but not change. On an
     * open gate no PKRU was switched and the CPU may lack the instruction. */
    cmpl    $0, %gs:GC_DOMAIN_PKRU
    je      1f
    WRITE_PKRU_CHECKED GC_HOST_PKRU, keycell_gate_check_failed
1:
    /* Host code makes system calls again. */
    movb    $0, %gs:GC_SELECTOR
    /* Only a thread that entered through a gate may leave through one: a
     * domain that jumps here on an idle thread stops on UD2. */
    cmpq    $1, %gs:TS_IN_DOMAIN
    jne     keycell_gate_check_failed

    movq    %rdi, %gs:TS_RESULT
    movsd   %xmm0, %gs:TS_FLOAT_RESULT

    /* Host state back from the key-0 page. */
    movq    %gs:TS_HOST_FSBASE, %rax
    wrfsbase %rax
    movq    %gs:TS_HOST_RSP, %rsp
    movq    %gs:TS_RBX, %rbx
    movq    %gs:TS_RBP, %rbp
    movq    %gs:TS_R12, %r12
    movq    %gs:TS_R13, %r13
    movq    %gs:TS_R14, %r14
    movq    %gs:TS_R15, %r15

    /* x87 and SSE state as the ABI promises the host: an empty x87 stack,
     * no pending exception, the host's control words. Exception flags are
     * cleared first with non-waiting instructions, because EMMS and FLDCW
     * would raise a pending exception that the domain unmasked. EMMS marks
     * every x87 register empty at a tenth of the cost of FNINIT. */
    fnstsw  %ax
    testw   $X87_EXCEPTION_FLAGS, %ax
    jz      2f
    fnclex
2:
    fldcw   %gs:TS_FPUCW
    emms
    ldmxcsr %gs:TS_MXCSR

    /* Flags the domain may have set that change how host code runs: TF
     * (single-step), DF (string direction), AC (alignment checks), NT. POPFQ
     * is slow, so it runs only when one of them is set. */
    pushfq
    testl   $EFLAGS_HOST_MUST_CLEAR, (%rsp)
    popq    %rax
    jz      3f
    pushq   $EFLAGS_CLEAN
    popfq
3:
    movq    $0, %gs:TS_IN_DOMAIN
    ret
    .size   keycell_gate_exit, .-keycell_gate_exit

/* A failed check: stop at once. The SIGILL handler sees an address in the
 * gate text and aborts the process rather than run on with unknown rights. */
keycell_gate_check_failed:
    ud2

    .globl  keycell_gate_text_end
    .hidden keycell_gate_text_end
keycell_gate_text_end:

    .section .note.GNU-stack, "", @progbits
