/*
 * pflash-cmd.c - the variable store's command machine (pflash.h), apart
 * from KVM and the VM so the unit test and the fuzz target run it alone:
 * the Intel command set as far as OVMF's QemuFlash.c uses it, with QEMU's
 * pflash_cfi01 as the model for the details OVMF depends on (the block
 * goes at the erase command, reads give status until read array, status
 * is 0 after a clear: that is how OVMF tells flash from ROM and RAM).
 */
#include <string.h>

#include "engine/vm/dev/pflash.h"

#define CMD_PROGRAM2	0x40
#define CMD_ERASE	0x20
#define CMD_ERASE_OK	0xD0
#define CMD_CLEAR	0x50
#define CMD_STATUS	0x70
#define CMD_READ_ID	0x90
#define CMD_CFI		0x98

void
pflash_read_array(struct pflash_cmd *c)
{
	c->cmd = 0;
	c->second = false;
	c->romd = true;
}

void
pflash_cmd_write(struct pflash_cmd *c, uint8_t *mem, size_t len, uint64_t off, uint8_t val)
{
	if (off >= len)
		return;
	c->romd = false;
	if (c->second) {
		c->second = false;
		switch (c->cmd) {
		case PFLASH_CMD_PROGRAM:
			mem[off] = val;
			c->status |= PFLASH_STATUS_READY;
			return;		/* reads: status, until read array */
		case CMD_ERASE:
			if (val == CMD_ERASE_OK) {
				c->status |= PFLASH_STATUS_READY;
				return;
			}
			break;
		}
		pflash_read_array(c);		/* 0xFF, or a sequence broken off */
		return;
	}
	switch (val) {
	case PFLASH_CMD_PROGRAM:
	case CMD_PROGRAM2:
		c->cmd = PFLASH_CMD_PROGRAM;
		c->second = true;
		return;
	case CMD_ERASE:
		/* the block goes at once; the confirm only completes it */
		memset(mem + off / PFLASH_BLOCK * PFLASH_BLOCK, 0xFF,
		       len - off / PFLASH_BLOCK * PFLASH_BLOCK < PFLASH_BLOCK ?
		       len - off / PFLASH_BLOCK * PFLASH_BLOCK : PFLASH_BLOCK);
		c->status |= PFLASH_STATUS_READY;
		c->cmd = CMD_ERASE;
		c->second = true;
		return;
	case CMD_CLEAR:
		c->status = 0;
		break;
	case CMD_STATUS:
	case CMD_READ_ID:
		c->cmd = val;
		return;
	case CMD_CFI:
		c->cmd = val;
		c->second = true;
		return;
	}
	pflash_read_array(c);	/* read array, 0x00, 0xF0, and what is not known */
}

uint8_t
pflash_cmd_read(const struct pflash_cmd *c, const uint8_t *mem, size_t len, uint64_t off)
{
	if (c->romd || c->cmd == 0)
		return off < len ? mem[off] : 0xFF;
	switch (c->cmd) {
	case CMD_READ_ID:	/* Intel, a 28F-class part */
		return off % 2 == 0 ? 0x89 : 0x18;
	case CMD_CFI:
		return 0;	/* no query table: OVMF never asks */
	default:
		return c->status;
	}
}

