/*
 * fw_cfg.c - the firmware configuration device (see fw_cfg.h). Items are
 * immutable once the VM runs; the guest's only state is the selector and
 * the read offset, kept under a lock because any vCPU may read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vm/dev/fw_cfg.h"
#include "engine/vm/state/snap-io.h"

#define FW_CFG_PORT_SEL		0x510
#define FW_CFG_PORT_DATA	0x511
#define FW_CFG_ID_TRADITIONAL	0x01

struct fw_cfg_item {
	uint16_t key;
	char name[FW_CFG_NAME_LEN];	/* "" for a plain item */
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	pthread_mutex_t lock;
	int n, nfiles;
	struct fw_cfg_item item[FW_CFG_MAX_ITEMS];
	uint8_t *dir;			/* FW_CFG_FILE_DIR, rebuilt per file */
	uint32_t dir_len;
	uint16_t sel;
	uint32_t off;
};

static struct fw_cfg_item *
find(struct fw_cfg *f, uint16_t key)
{
	for (int i = 0; i < f->n; i++)
		if (f->item[i].key == key)
			return &f->item[i];
	return NULL;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
fw_cfg_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct fw_cfg *f = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&f->lock);
	if (off == 0) {			/* selector: 16-bit write */
		if (write) {
			f->sel = len >= 2 ? get_le16(b) : b[0];
			f->off = 0;
		} else {
			memset(b, 0, len);
			b[0] = f->sel;
			if (len >= 2)
				b[1] = f->sel >> 8;
		}
	} else if (off == 1 && !write) {	/* data: one byte at a time */
		const uint8_t *src = NULL;
		uint32_t n = 0;
		struct fw_cfg_item *it;

		if (f->sel == FW_CFG_FILE_DIR) {
			src = f->dir;
			n = f->dir_len;
		} else if ((it = find(f, f->sel)) != NULL) {
			src = it->data;
			n = it->len;
		}
		for (int i = 0; i < len; i++)
			b[i] = f->off < n ? src[f->off++] : 0;
	}
	/* writes to data (old write interface) are ignored */
	pthread_mutex_unlock(&f->lock);
}

int
fw_cfg_init(struct vmm *vm, struct hv_err *err)
{
	struct fw_cfg *f = calloc(1, sizeof *f);
	uint32_t id = FW_CFG_ID_TRADITIONAL;
	uint8_t v[4];

	if (f == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	pthread_mutex_init(&f->lock, NULL);
	vm->fw_cfg = f;
	put_le32(v, id);
	if (bus_add(&vm->pio, FW_CFG_PORT_SEL, 2, fw_cfg_io, f) != 0 ||
	    fw_cfg_add(vm, FW_CFG_SIGNATURE, "QEMU", 4) != 0 ||
	    fw_cfg_add(vm, FW_CFG_ID, v, 4) != 0)
		return hv_fail(err, HV_EINTERNAL, "fw_cfg: cannot register");
	return 0;
}

void
fw_cfg_free(struct vmm *vm)
{
	struct fw_cfg *f = vm->fw_cfg;

	if (f == NULL)
		return;
	for (int i = 0; i < f->n; i++)
		free(f->item[i].data);
	free(f->dir);
	pthread_mutex_destroy(&f->lock);
	free(f);
	vm->fw_cfg = NULL;
}

static int
add(struct fw_cfg *f, uint16_t key, const char *name, const void *data,
    size_t len)
{
	struct fw_cfg_item *it;

	if (f->n >= FW_CFG_MAX_ITEMS || len > UINT32_MAX || find(f, key) != NULL)
		return -1;
	it = &f->item[f->n];
	it->data = malloc(len ? len : 1);
	if (it->data == NULL)
		return -1;
	memcpy(it->data, data, len);
	it->len = (uint32_t)len;
	it->key = key;
	snprintf(it->name, sizeof it->name, "%s", name);
	f->n++;
	return 0;
}

int
fw_cfg_add(struct vmm *vm, uint16_t key, const void *data, size_t len)
{
	return add(vm->fw_cfg, key, "", data, len);
}

/* the directory: BE32 count, then {BE32 size, BE16 key, 16 zero, name[56]} */
static int
rebuild_dir(struct fw_cfg *f)
{
	uint32_t len = 4 + 64 * (uint32_t)f->nfiles, at = 4;
	uint8_t *d = calloc(1, len);

	if (d == NULL)
		return -1;
	put_be32(d, (uint32_t)f->nfiles);
	for (int i = 0; i < f->n; i++) {
		struct fw_cfg_item *it = &f->item[i];

		if (it->name[0] == '\0')
			continue;
		put_be32(d + at, it->len);
		d[at + 4] = it->key >> 8;
		d[at + 5] = it->key & 0xFF;
		memcpy(d + at + 8, it->name, strlen(it->name));
		at += 64;
	}
	free(f->dir);
	f->dir = d;
	f->dir_len = len;
	return 0;
}

int
fw_cfg_add_file(struct vmm *vm, const char *name, const void *data, size_t len)
{
	struct fw_cfg *f = vm->fw_cfg;

	if (name[0] == '\0' || strlen(name) >= FW_CFG_NAME_LEN ||
	    add(f, FW_CFG_FILE_FIRST + f->nfiles, name, data, len) != 0)
		return -1;
	f->nfiles++;
	return rebuild_dir(f);
}

/* --- state (snapshot.c): where the firmware is in its reading ------------- */

void
fw_cfg_save(struct fw_cfg *f, struct snap_w *w)
{
	pthread_mutex_lock(&f->lock);
	snap_u16(w, f->sel);
	snap_u32(w, f->off);
	pthread_mutex_unlock(&f->lock);
}

int
fw_cfg_load(struct fw_cfg *f, struct snap_r *r)
{
	uint16_t sel = snap_g16(r);
	uint32_t off = snap_g32(r);

	if (r->bad)
		return -1;
	pthread_mutex_lock(&f->lock);
	f->sel = sel;
	f->off = off;	/* reads past an item's end give zeros, as on QEMU */
	pthread_mutex_unlock(&f->lock);
	return 0;
}
