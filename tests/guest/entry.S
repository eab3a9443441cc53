/*
 * entry.S - the probe's ring-0 part: PVH entry, long mode, drop to ring 3.
 *
 * A PVH loader (QEMU -kernel, hv's VMM) finds XEN_ELFNOTE_PHYS32_ENTRY and
 * enters _start32 in 32-bit protected mode, paging off, EBX = physical
 * address of struct hvm_start_info.  Ring-0 code is instruction-emulated
 * on kvm_pvm hosts (~1500x slower), so this file does the least that must
 * be privileged and leaves everything else to ring 3:
 *   - the page tables are prebuilt here at assembly time (identity map of
 *     0-4 GiB with user-accessible 2 MiB pages, 3-4 GiB uncached, the
 *     first 4 KiB left unmapped to catch NULL), so no loop runs in ring 0;
 *   - GDT with ring-3 segments, TSS (only RSP0 matters), an empty IDT that
 *     ring-3 C code fills in (idt_init) before anything can fault;
 *   - iretq to ring 3 with IOPL=3 (port I/O without exits to ring 0).
 * About 40 instructions run in ring 0 on the way to probe_main().
 *
 * Exceptions land in isr_common (ring 0, on the TSS stack), which calls
 * fault_report() in C: it prints and leaves through the debug-exit port.
 */
#define CR0_PE		0x00000001
#define CR0_WP		0x00010000
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xC0000080
#define EFER_LME	0x00000100

#define SEL_KCODE	0x08
#define SEL_KDATA	0x10
#define SEL_UDATA	0x1b	/* 0x18 | RPL 3 */
#define SEL_UCODE	0x23	/* 0x20 | RPL 3 */
#define SEL_TSS		0x28

#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_U		0x004
#define PTE_PWT		0x008
#define PTE_PCD		0x010
#define PTE_PS		0x080
#define PTE_TABLE	(PTE_P | PTE_RW | PTE_U)
#define PTE_2M		(PTE_P | PTE_RW | PTE_U | PTE_PS)
#define PTE_2M_UC	(PTE_2M | PTE_PWT | PTE_PCD)

/* ---- the PVH note: name "Xen", type 18, 8-byte entry address ---- */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz */
	.long 8			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad _start32
	.balign 4

/* ---- 32-bit entry ---- */
	.section .text.entry, "ax"
	.code32
	.globl _start32
_start32:
	cli
	movl %ebx, start_info_pa
	lgdt gdt_ptr
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $SEL_KCODE, $start64

	.code64
start64:
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $stack0_top, %rsp

	/* TSS descriptor: base split over the 16-byte system descriptor */
	movl $tss, %eax
	movl %eax, %edx
	andl $0xffffff, %edx
	shlq $16, %rdx
	movl %eax, %ecx
	andl $0xff000000, %ecx
	shlq $32, %rcx
	orq %rcx, %rdx
	movabsq $0x0000890000000000 + (tss_end - tss - 1), %rcx
	orq %rcx, %rdx
	movq %rdx, gdt + SEL_TSS
	movw $SEL_TSS, %ax
	ltr %ax
	lidt idt_ptr

	/* to ring 3, IOPL=3, interrupts off */
	pushq $SEL_UDATA
	pushq $stack3_top
	pushq $0x3002
	pushq $SEL_UCODE
	pushq $ring3_start
	iretq

/* ---- ring 3 from here on ---- */
	.text
ring3_start:
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	cld
	rep stosb
	movl start_info_pa, %edi
	call probe_main
	movl %eax, %edi
	call probe_exit
1:	pause
	jmp 1b

/*
 * Exception stubs, 16 bytes apart (isr_stub_base + 16 * vector), each
 * pushing a dummy error code where the CPU pushes none, then the vector.
 */
	.balign 16
	.globl isr_stub_base
isr_stub_base:
	.set vec, 0
	.rept 32
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq $vec
	.else
	pushq $0
	pushq $vec
	.endif
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %cr2, %rsi
	andq $-16, %rsp
	call fault_report
2:	hlt
	jmp 2b

/*
 * Idle without burning the host CPU: ring 3 calls idle_halt() with a
 * LAPIC one-shot timer armed.  kvm_pvm answers `int n` from ring 3 with
 * #UD and runs syscall as a PVM-guest entry, so the way into ring 0 is an
 * exception: ud2 at idle_ud2.  isr_ud sees that RIP, steps over the ud2,
 * halts with interrupts on until one arrives (the sti shadow keeps it from
 * slipping in before the hlt, but see lapic_timer_init() in main.c) and
 * returns to ring 3.  Any other #UD is a
 * fault like the rest.
 */
	.globl idle_halt, isr_ud, isr_ignore
idle_halt:
idle_ud2:
	ud2
	ret

isr_ud:
	cmpq $idle_ud2, (%rsp)
	jne isr_stub_base + 16 * 6
	addq $2, (%rsp)
	sti
	hlt
	cli
	iretq

/* every vector from 32 up (timer, strays): EOI the LAPIC and go on */
isr_ignore:
	pushq %rax
	movl $0xFEE000B0, %eax
	movl $0, (%rax)
	popq %rax
	iretq

/*
 * Application processors (smp.c starts them one at a time with INIT-SIPI-
 * SIPI).  ap_tramp is copied to AP_TRAMP_PA (the SIPI vector's page) and
 * entered in real mode: GDT, protected mode, the prebuilt page tables,
 * long mode, then ap_start64 here, which takes its own GDT, TSS and
 * stacks from *ap_boot_ptr (struct ap_boot in probe.h) and drops to ring
 * 3 in ap_main().  About 60 instructions in ring 0, as on the BSP.
 */
#define AP_TRAMP_PA	0x8000

	.section .text.ap, "ax"
	.code16
	.globl ap_tramp, ap_tramp_end
	.balign 16
ap_tramp:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_tramp_gdtr - ap_tramp
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $0x08, $(AP_TRAMP_PA + ap_tramp32 - ap_tramp)

	.code32
ap_tramp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $0x18, $ap_start64

	.balign 8
ap_tramp_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF	/* 0x08 code, 32-bit */
	.quad 0x00CF92000000FFFF	/* 0x10 data */
	.quad 0x00AF9A000000FFFF	/* 0x18 code, 64-bit */
ap_tramp_gdtr:
	.word ap_tramp_gdtr - ap_tramp_gdt - 1
	.long AP_TRAMP_PA + ap_tramp_gdt - ap_tramp
ap_tramp_end:

	.code64
ap_start64:
	movq ap_boot_ptr(%rip), %rbx
	movq 0(%rbx), %rsp		/* ring-0 stack (also the TSS's RSP0) */
	lgdt 30(%rbx)
	pushq $SEL_KCODE
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movw $SEL_TSS, %ax
	ltr %ax
	lidt idt_ptr
	pushq $SEL_UDATA
	pushq 8(%rbx)			/* ring-3 stack */
	pushq $0x3002
	pushq $SEL_UCODE
	pushq $ap_ring3
	iretq
ap_ring3:
	movq 16(%rbx), %rdi
	call ap_main
2:	pause
	jmp 2b

/* ---- descriptor tables ---- */
	.data
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF	/* 0x08 kernel code, 64-bit */
	.quad 0x00CF92000000FFFF	/* 0x10 kernel data */
	.quad 0x00CFF2000000FFFF	/* 0x18 user data */
	.quad 0x00AFFA000000FFFF	/* 0x20 user code, 64-bit */
	.quad 0, 0			/* 0x28 TSS, filled at entry */
gdt_end:
	.balign 8
	.word 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
	.word 0
idt_ptr:
	.word 4096 - 1
	.quad idt

	.balign 16
tss:
	.long 0
	.quad stack0_top		/* RSP0 */
	.quad 0, 0			/* RSP1, RSP2 */
	.quad 0				/* reserved */
	.quad 0, 0, 0, 0, 0, 0, 0	/* IST1-7 */
	.quad 0
	.word 0
	.word iobitmap - tss
	/*
	 * IOPL=3 should make this moot, but kvm_pvm checks the bitmap for
	 * ring-3 port I/O anyway: all ports allowed, plus the 0xFF end byte.
	 */
iobitmap:
	.fill 8192, 1, 0
	.byte 0xFF
tss_end:

	.globl start_info_pa
	.balign 4
start_info_pa:
	.long 0

/*
 * Page tables, prebuilt: PML4[0] -> PDPT, PDPT[0..3] -> pd_low (4 PDs,
 * 2048 entries, 0-4 GiB), pd_low[0] -> pt0 (4 KiB pages of the first
 * 2 MiB, page 0 absent).  Ring 3 may add PDPT entries for RAM or 64-bit
 * BARs above 4 GiB (pt_map_high in main.c uses pt_spare).
 */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4, pdpt
pml4:
	.quad pdpt + PTE_TABLE
	.fill 511, 8, 0
pdpt:
	.quad pd_low + PTE_TABLE
	.quad pd_low + 0x1000 + PTE_TABLE
	.quad pd_low + 0x2000 + PTE_TABLE
	.quad pd_low + 0x3000 + PTE_TABLE
	.fill 508, 8, 0
pd_low:
	.quad pt0 + PTE_TABLE
	.set addr, 0x200000
	.rept 2047
	.if addr >= 0xC0000000
	.quad addr + PTE_2M_UC
	.else
	.quad addr + PTE_2M
	.endif
	.set addr, addr + 0x200000
	.endr
pt0:
	.quad 0
	.set addr, 0x1000
	.rept 511
	.quad addr + PTE_P + PTE_RW + PTE_U
	.set addr, addr + 0x1000
	.endr

/* ---- zeroed by ring 3 (bss) or never zeroed (stacks) ---- */
	.bss
	.balign 4096
	.globl idt, pt_spare
idt:
	.fill 4096, 1, 0
pt_spare:			/* 8 page directories for regions above 4 GiB */
	.fill 8 * 4096, 1, 0

	.section .stack, "aw", @nobits
	.balign 4096
stack0:
	.fill 8192, 1, 0
stack0_top:
stack3:
	.fill 65536, 1, 0
stack3_top:

	.section .note.GNU-stack, "", @progbits
