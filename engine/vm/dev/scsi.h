/*
 * scsi.h - the SCSI targets behind the virtio-scsi controller: a disk
 * (SBC) on an engine/disk image, or a DVD drive (MMC) on a read-only ISO
 * file whose medium the host changes or ejects while the guest runs.
 *
 * scsi_exec() is the whole command set: one CDB in, status, sense and
 * data out. Every CDB field is the guest's and is checked before use; a
 * command it does not know, or one it cannot serve, is CHECK CONDITION
 * with sense that says why, never anything worse. No virtio here, so the
 * fuzz target drives it directly (tests/fuzz/fuzz-scsi.c).
 */
#ifndef HV_VM_SCSI_H
#define HV_VM_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/err.h"

#define SCSI_MAX_XFER	(4u << 20)	/* bytes one READ/WRITE moves at most */
#define SCSI_SENSE_LEN	18		/* fixed-format sense */

#define SCSI_GOOD		0x00
#define SCSI_CHECK_CONDITION	0x02

enum scsi_kind { SCSI_DISK, SCSI_DVD };

struct disk;

struct scsi_lun {
	enum scsi_kind kind;
	/* the medium: a disk image, or for a DVD an ISO's fd (-1: none) */
	struct disk *disk;
	int iso_fd;
	uint64_t blocks;		/* of block_size */
	uint32_t block_size;		/* 512 disk, 2048 DVD */
	bool ro;
	char serial[21];
	/* what the guest learns next: a unit attention (sense key 6), a
	   media event for GET EVENT STATUS NOTIFICATION (MMC) */
	uint8_t ua_asc, ua_ascq;	/* ua_asc 0: none */
	uint8_t media_event;		/* 0 none, 2 new media, 3 media removal */
	bool prevent;			/* PREVENT ALLOW MEDIUM REMOVAL */
	bool tray_open;
	uint8_t sense[SCSI_SENSE_LEN];	/* for REQUEST SENSE after a CHECK */
	uint64_t reads, writes, read_bytes, write_bytes, errors;
};

/* one command: the CDB and the initiator's buffers */
struct scsi_cmd {
	const uint8_t *cdb;
	uint32_t cdb_len;
	const uint8_t *out;		/* data-out, out_len bytes */
	uint32_t out_len;
	uint8_t *in;			/* data-in, room for in_max bytes */
	uint32_t in_max;
	/* results */
	uint32_t in_len;		/* data-in bytes written */
	uint8_t status;			/* SCSI_GOOD or SCSI_CHECK_CONDITION */
	uint8_t sense[SCSI_SENSE_LEN];	/* valid with CHECK CONDITION */
	bool overrun;			/* the data did not fit in[]/out[] */
};

/* a disk LUN on an open image (the LUN owns it); a DVD, empty */
void scsi_lun_disk(struct scsi_lun *l, struct disk *d, bool ro, const char *serial);
void scsi_lun_dvd(struct scsi_lun *l, const char *serial);
/* a DVD's medium: insert an ISO (the LUN owns fd; its size a multiple
   of 2048), or take it out (fd -1); the guest sees a media change */
void scsi_lun_medium(struct scsi_lun *l, int fd, uint64_t bytes);
void scsi_lun_close(struct scsi_lun *l);

/* a reset (controller or LUN): the guest is told once, by unit attention */
void scsi_lun_reset(struct scsi_lun *l);

void scsi_exec(struct scsi_lun *l, struct scsi_cmd *c);
/* the INQUIRY/REPORT LUNS answer for a LUN that does not exist */
void scsi_exec_absent(struct scsi_cmd *c);

#endif
