/*
 * bootsect.S - a 512-byte MBR boot sector for the Gen1 tests: SeaBIOS
 * loads it at 0x7C00 from the first disk and jumps here in real mode. It
 * prints "gen1: boot ok" on COM1 (polling the LSR like any driver) and
 * halts with interrupts off, so the VM stays up doing nothing — the state
 * `hv vm shutdown` must cope with (no OS answers the power button).
 */
	.code16
	.section .text
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $0x7C00, %sp
	cld
	movw $msg, %si
next:
	lodsb
	testb %al, %al
	jz done
	movb %al, %bl
	movw $0x3FD, %dx		/* LSR: wait for THRE */
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	movw $0x3F8, %dx
	movb %bl, %al
	outb %al, %dx
	jmp next
done:
	hlt
	jmp done

msg:	.asciz "gen1: boot ok\r\n"

	.org 510
	.byte 0x55, 0xAA
