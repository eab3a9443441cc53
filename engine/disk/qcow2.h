/*
 * qcow2.h - what the qcow2 driver's files share (qcow2.c: header and
 * open, qcow2-map.c: L1/L2 lookup and reads, qcow2-write.c: writes,
 * qcow2-refcount.c: cluster allocation, qcow2-check.c: check/repair,
 * qcow2-create.c: new images). Private to engine/disk/qcow2*.c.
 *
 * In-memory tables are kept in host order; every on-disk field goes
 * through get_be*()/put_be*().
 */
#ifndef HV_DISK_QCOW2_H
#define HV_DISK_QCOW2_H

#include "engine/disk/disk-int.h"

#define QCOW2_MAGIC		0x514649fbu	/* "QFI\xfb" */
#define QCOW2_V2_HDR_LEN	72u
#define QCOW2_V3_HDR_LEN	104u
#define QCOW2_MIN_CLUSTER_BITS	9u
#define QCOW2_MAX_CLUSTER_BITS	21u
#define QCOW2_MAX_L1_BYTES	(32u << 20)	/* qemu's limit too */
#define QCOW2_MAX_RCT_BYTES	(8u << 20)
#define QCOW2_MAX_BACKING_NAME	1023u

/* header field offsets */
#define QH_VERSION		4
#define QH_BACKING_OFF		8
#define QH_BACKING_LEN		16
#define QH_CLUSTER_BITS		20
#define QH_SIZE			24
#define QH_CRYPT		32
#define QH_L1_SIZE		36
#define QH_L1_OFF		40
#define QH_RCT_OFF		48
#define QH_RCT_CLUSTERS		56
#define QH_NB_SNAP		60
#define QH_SNAP_OFF		64
#define QH_INCOMPAT		72
#define QH_COMPAT		80
#define QH_AUTOCLEAR		88
#define QH_REFCOUNT_ORDER	96
#define QH_HDR_LEN		100
#define QH_COMPRESSION		104

/* incompatible feature bits */
#define QCOW2_INC_DIRTY		(1ull << 0)
#define QCOW2_INC_CORRUPT	(1ull << 1)
#define QCOW2_INC_DATA_FILE	(1ull << 2)
#define QCOW2_INC_COMPRESSION	(1ull << 3)
#define QCOW2_INC_EXTL2		(1ull << 4)
#define QCOW2_INC_KNOWN		(QCOW2_INC_DIRTY | QCOW2_INC_CORRUPT)

/* header extensions */
#define QCOW2_EXT_END		0x00000000u
#define QCOW2_EXT_BACKING_FMT	0xe2792acau
#define QCOW2_EXT_FEATURES	0x6803f857u
#define QCOW2_EXT_BITMAPS	0x23852875u

/* L1/L2 entries */
#define QCOW2_COPIED		(1ull << 63)
#define QCOW2_COMPRESSED	(1ull << 62)
#define QCOW2_ZERO		(1ull << 0)
#define QCOW2_OFF_MASK		0x00fffffffffffe00ull	/* bits 9-55 */
#define QCOW2_L1_RESERVED	0x7f000000000001ffull
#define QCOW2_L2_RESERVED	0x3f000000000001feull
#define QCOW2_RCT_RESERVED	0x1ffull

/* one cached metadata cluster (L2 table or refcount block) */
struct qcow2_cslot {
	uint64_t off;		/* host offset, 0 = empty slot */
	uint64_t lru;
	uint8_t *buf;
};

struct qcow2_cache {
	unsigned n;
	uint64_t tick;
	struct qcow2_cslot *slot;
};

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits;
	uint32_t cs;		/* cluster size */
	uint32_t l2_entries;	/* cs / 8 */
	uint32_t refcount_order;
	uint32_t rb_entries;	/* refcounts per refcount block */
	uint32_t hdr_len;
	uint64_t incompat, compat, autoclear;
	uint32_t nb_snapshots;
	uint64_t snapshots_off;

	uint64_t file_size;	/* at open; grows as we allocate */
	uint64_t l1_off;
	uint32_t l1_size;
	uint64_t *l1;		/* host order */

	uint64_t rct_off;
	uint32_t rct_clusters;
	uint64_t rct_entries;
	uint64_t *rct;		/* host order */
	bool rct_deferred;	/* growing the table: entries not on disk yet */

	uint64_t end_cluster;	/* first cluster past everything in use */
	uint64_t free_hint;	/* no free cluster below this one */
	bool writable;
	bool hdr_cleaned;	/* autoclear bits dropped before 1st write */
	bool has_bitmaps;	/* bitmaps extension: check cannot count it */

	struct qcow2_cache l2c;
	struct qcow2_cache rbc;

	/* last decompressed cluster */
	uint64_t zc_entry;
	uint8_t *zc_buf;
	uint8_t *zc_in;		/* compressed input scratch */
	uint8_t *cow;		/* one cluster of scratch for COW */
};

static inline uint64_t
qcow2_bytes_to_clusters(const struct qcow2 *q, uint64_t bytes)
{
	return (bytes + q->cs - 1) >> q->cluster_bits;
}

/* qcow2.c */
int qcow2_pread_meta(struct disk *d, void *buf, size_t len, uint64_t off,
		     const char *what, struct hv_err *err);
int qcow2_pread_data(struct disk *d, void *buf, size_t len, uint64_t off,
		     struct hv_err *err);
int qcow2_pwrite(struct disk *d, const void *buf, size_t len, uint64_t off,
		 struct hv_err *err);
int qcow2_open_file(struct disk *d, struct hv_err *err);
int qcow2_barrier(struct disk *d, struct hv_err *err);
int qcow2_write_header_field(struct disk *d, unsigned off, const void *v,
			     size_t len, struct hv_err *err);
int qcow2_prepare_write(struct disk *d, struct hv_err *err);

/* qcow2-map.c */
int qcow2_cache_init(struct qcow2_cache *c, unsigned n, uint32_t cs);
void qcow2_cache_free(struct qcow2_cache *c);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off);
int qcow2_cache_get(struct disk *d, struct qcow2_cache *c, uint64_t off,
		    uint8_t **buf, bool fresh, struct hv_err *err);
int qcow2_l2_get(struct disk *d, uint64_t l1_index, uint8_t **l2,
		 struct hv_err *err);
int qcow2_check_l2_entry(struct disk *d, uint64_t e, struct hv_err *err);
void qcow2_compressed_span(const struct qcow2 *q, uint64_t e, uint64_t *off,
			   uint64_t *len);
int qcow2_read_compressed(struct disk *d, uint64_t e, uint8_t **out,
			  struct hv_err *err);
int qcow2_read_layer(struct disk *d, uint64_t off, void *buf, size_t len,
		     struct hv_err *err);
int qcow2_map(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
	      uint64_t *pnum);
int qcow2_block_status(struct disk *d, uint64_t off, uint64_t len,
		       uint64_t *pnum, struct hv_err *err);

/* qcow2-refcount.c */
int qcow2_refcount_get(struct disk *d, uint64_t cluster, uint64_t *rc,
		       struct hv_err *err);
int qcow2_refcount_set(struct disk *d, uint64_t cluster, uint64_t rc,
		       struct hv_err *err);
int qcow2_alloc(struct disk *d, uint64_t n, uint64_t *off,
		struct hv_err *err);
int qcow2_free(struct disk *d, uint64_t off, uint64_t n, struct hv_err *err);
int qcow2_free_entry(struct disk *d, uint64_t e, struct hv_err *err);
int qcow2_find_end(struct disk *d, struct hv_err *err);
uint64_t qcow2_rb_get(const struct qcow2 *q, const uint8_t *rb, uint64_t i);
void qcow2_rb_put(const struct qcow2 *q, uint8_t *rb, uint64_t i,
		  uint64_t v);

/* qcow2-write.c */
int qcow2_write(struct disk *d, uint64_t off, const void *buf, size_t len,
		struct hv_err *err);
int qcow2_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		       struct hv_err *err);
int qcow2_discard(struct disk *d, uint64_t off, uint64_t len,
		  struct hv_err *err);
int qcow2_flush(struct disk *d, struct hv_err *err);
int qcow2_resize(struct disk *d, uint64_t size, struct hv_err *err);
int qcow2_l2_for_write(struct disk *d, uint64_t l1i, uint8_t **l2,
		       uint64_t *l2_off, struct hv_err *err);
int qcow2_set_l2(struct disk *d, uint64_t l2_off, uint32_t first, uint32_t n,
		 const uint64_t *e, struct hv_err *err);

/* qcow2-check.c */
int qcow2_check(struct disk *d, bool repair, struct disk_check_result *r,
		struct hv_err *err);

/* qcow2-compact.c */
int qcow2_compact(struct disk *d, disk_progress_fn progress, void *ctx,
		  struct hv_err *err);

/* qcow2-create.c */
int qcow2_create(const char *path, const struct disk_create_opts *o,
		 struct hv_err *err);

#endif
