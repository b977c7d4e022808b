/*
 * Layout of the per-thread gate block, shared by the gate assembly in gates/ and the
 * C++ that prepares calls (addon/thread_state.cc).
 *
 * Each thread that enters domains owns one block of two pages, and its GS base
 * points at the first. GS base is the one pointer domain code cannot forge:
 * the scanner rejects WRGSBASE and the syscall policy denies arch_prctl, so
 * %gs-relative accesses in trusted code always reach this thread's block.
 *
 * - The gate page carries the protection key the domain PKRU makes read-only.
 *   It holds the PKRU values the gates check against after WRPKRU: a check
 *   must read a value the domain cannot write, and must still be able to read
 *   it while the domain PKRU is in force.
 * - The state page has key 0, which the domain PKRU denies. It holds the host
 *   state a gate saves (stack pointer, callee-saved registers, FS base), the
 *   staged call and its result: host addresses the domain must never see.
 */
#pragma once

#define KEYCELL_PAGE_SIZE 4096

/* Gate page (key: read-only for domains). */
#define GC_SELECTOR 0x00    /* u8: Syscall User Dispatch selector, 0 allow, 1 block */
#define GC_HOST_PKRU 0x08   /* u32: PKRU of the host thread at gate entry */
#define GC_DOMAIN_PKRU 0x0c /* u32: PKRU the entry gate must establish */
/* Where a trapped syscall resumes, and the registers the domain gets back
 * that the resume trampoline needs for WRPKRU: the domain's own values. */
#define GC_RESUME_RIP 0x10
#define GC_RESUME_RAX 0x18
#define GC_RESUME_RCX 0x20
#define GC_RESUME_RDX 0x28
#define GC_RESUME_FLAGS 0x30
/* Domain address the entry gate calls. It is read after the domain PKRU is
 * in force, so it lives here rather than in the state page. */
#define GC_TARGET 0x38
/* u32: vector state the entry gate clears beyond XMM6-15 (thread_state.cc). */
#define GC_VECTOR_CLEAR 0x40
#define VECTOR_CLEAR_AVX 1     /* VZEROUPPER: bits 128 and up of YMM/ZMM0-15 */
#define VECTOR_CLEAR_AVX512 2  /* ZMM16-31 and the mask registers k0-k7 */

/* State page (key 0: denied to domains), as offsets from GS base. */
#define TS_SELF 0x1000          /* address of the block, to validate GS base */
#define TS_SIGNAL_PKRU 0x1008   /* u32: PKRU for keycell's signal handlers */
#define TS_PKU_AVAILABLE 0x100c /* u32: 1 when the CPU and kernel enable PKRU */
#define TS_IN_DOMAIN 0x1010     /* u64: 1 while this thread runs domain code */
#define TS_HOST_RSP 0x1018
#define TS_HOST_FSBASE 0x1020
#define TS_RBX 0x1028
#define TS_RBP 0x1030
#define TS_R12 0x1038
#define TS_R13 0x1040
#define TS_R14 0x1048
#define TS_R15 0x1050
#define TS_MXCSR 0x1058          /* u32 */
#define TS_FPUCW 0x105c          /* u16 */
#define TS_DOMAIN_RSP 0x1060     /* 16-byte aligned top of the domain stack */
#define TS_DOMAIN_FSBASE 0x1068  /* thread pointer of the domain (its TCB) */
#define TS_ARGS 0x1070           /* u64[6]: rdi, rsi, rdx, rcx, r8, r9 */
#define TS_FLOAT_ARGS 0x10a0     /* double[6]: xmm0..xmm5 */
#define TS_RESULT 0x10d0         /* rax on return */
#define TS_FLOAT_RESULT 0x10d8   /* xmm0 on return */
#define TS_SIGNAL_FSBASE 0x10e0  /* FS base a signal interrupted, while a handler runs */
#define TS_SYSCALL_RSP 0x10e8    /* domain stack pointer while the host serves a syscall */
#define TS_SYSCALL_FSBASE 0x10f0 /* domain thread pointer meanwhile */
#define TS_SYSCALL_RESULT 0x10f8 /* what the syscall returns to the domain */
/* The domain's registers at a trapped syscall, for the resume trampoline. */
#define TS_RESUME_RSP 0x1100
#define TS_RESUME_RBX 0x1108
#define TS_RESUME_RBP 0x1110
#define TS_RESUME_RSI 0x1118
#define TS_RESUME_RDI 0x1120
#define TS_RESUME_R8 0x1128
#define TS_RESUME_R9 0x1130
#define TS_RESUME_R10 0x1138
#define TS_RESUME_R11 0x1140
#define TS_RESUME_R12 0x1148
#define TS_RESUME_R13 0x1150
#define TS_RESUME_R14 0x1158
#define TS_RESUME_R15 0x1160

#define KEYCELL_THREAD_BLOCK_SIZE (2 * KEYCELL_PAGE_SIZE)
