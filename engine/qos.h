/*
 * qos.h - the QoS arbiter: participants that share one resource (the
 * ports of a virtual switch, later the disks on one store or the VMs on
 * one host's memory) each say what they are guaranteed, allowed and want
 * right now, and get what they may use.
 *
 * There is no daemon to ask: each domain is a small table every
 * participant maps, $HV_HOME/run/qos/DOMAIN, with one slot per
 * participant. Whoever updates takes the table's flock, writes its own
 * slot, clears the slots of processes that died or stopped updating, and
 * computes everyone's share from what is there; it then applies its own.
 *
 *	qos_join(&q, home, "net-hv-lan", "UUID:nic0", &err);
 *	every 100 ms: rate = qos_update(q, capacity, &claim);
 *	qos_leave(q);
 *
 * Units are the caller's (bits/s, IOPS, bytes), the same for everyone in
 * a domain. A handle belongs to the process that joined: a forked child
 * joins again rather than using its parent's handle.
 */
#ifndef HV_QOS_H
#define HV_QOS_H

#include <stdint.h>

#include "engine/err.h"

#define QOS_SLOTS	64		/* participants in one domain */
#define QOS_KEY_MAX	64		/* "VMUUID:nic0" and the NUL */
#define QOS_STALE_MS	2000		/* a slot not updated this long is free */
#define QOS_UNBOUNDED	UINT64_MAX	/* a demand: all it can get */

struct qos_claim {
	uint64_t reserve;	/* guaranteed under contention (minimum) */
	uint64_t limit;		/* never more than this (maximum); 0: none */
	unsigned weight;	/* its share of what reserves leave; 0 counts as 1 */
	uint64_t demand;	/* what it would use now */
};

/*
 * The shares of n claims on capacity, into out[0..n-1]. When the demands
 * (each capped by its limit) fit, everyone gets its demand. Otherwise
 * each first gets min(demand, reserve), scaled down in proportion when
 * those alone exceed capacity; what is left is shared max-min fairly by
 * weight among those still wanting more, never past a demand or limit.
 * capacity 0 means unknown or unlimited: each gets its limit (0: none).
 */
void qos_allocate(int n, const struct qos_claim *in, uint64_t capacity,
		  uint64_t *out);

struct qos;

/* the table of domain ([A-Za-z0-9_.-], made if missing) with a slot for
   key; HV_EIO and a line saying why if the file cannot be had */
int qos_join(struct qos **out, const char *home, const char *domain,
	     const char *key, struct hv_err *err);
/* record claim, reap the dead, share capacity among all live slots and
   return this participant's grant (capacity 0: claim's limit, 0 being
   no limit). Never waits: while another participant holds the table it
   returns the last grant and records nothing (call again next period).
   A full table still answers, counting this claim with the others
   without a slot of its own until one frees up. */
uint64_t qos_update(struct qos *q, uint64_t capacity,
		    const struct qos_claim *claim);
/* participants in the table at the last update, this one included */
int qos_peers(const struct qos *q);
/* free the slot and the handle; NULL is fine */
void qos_leave(struct qos *q);

#endif
