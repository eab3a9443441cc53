/*
 * virtio-net.c - a network adapter (virtio 1.2, 5.1) on a TAP: one
 * receive and one transmit queue, the MAC and link status in config
 * space, mergeable receive buffers. No checksum or segmentation offload
 * is offered, so every frame is whole and its checksums are the guest's;
 * the TAP's virtio-net header passes through as is.
 *
 * The packet path is the port's: each frame the guest sends passes the
 * MAC, DHCP and router guards, the outbound ACLs and the bandwidth token
 * bucket; each frame for the guest passes the inbound ACLs. Counters per
 * direction and per drop reason feed metering.
 *
 * The bucket's rate is the maximum bandwidth, unless the switch has a
 * known capacity: then every 100 ms the port tells the switch's QoS
 * arbiter (engine/qos.h) what it wants and takes the rate it grants.
 * What it wants is the rate it sent at, with room to grow, or everything
 * it may have once the bucket held a frame back (the guest had more to
 * send than it was let). So minimum bandwidth holds under contention and
 * an idle port's share goes to the busy ones.
 *
 * Threads: queue kicks come from the I/O thread (ioeventfd) or a vCPU
 * with vdev.lock held; the TAP and the QoS timer are watched by the I/O
 * thread, which takes the lock itself. One timer serves both a frame
 * waiting for tokens and the arbiter's period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/vm/dev/virtio-net.h"
#include "engine/vm/dev/virtio-pci.h"

#define VIRTIO_ID_NET		1
#define QUEUE_SIZE		256
#define RXQ			0
#define TXQ			1

#define NET_F_MAC		5
#define NET_F_MRG_RXBUF		15
#define NET_F_STATUS		16
#define NET_S_LINK_UP		1

#define HDR_LEN			12	/* virtio_net_hdr with num_buffers */
#define FRAME_MAX		(65535 + 14 + 4)
#define BUF_MAX			(HDR_LEN + FRAME_MAX)
#define BUF_ROOM		(BUF_MAX + 4)	/* and an 802.1Q tag */
#define RX_CHAINS		32	/* buffers one mergeable frame may take */
#define CONFIG_LEN		10
#define QOS_PERIOD_NS		100000000ull	/* 100 ms */
#define TX_WAIT_MIN_NS		1000000ull	/* 1 ms */
#define NEVER			UINT64_MAX

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	int tap, timer_fd;
	struct net_policy pol;
	struct net_bucket bucket;
	/* the switch's arbiter, used from the I/O thread; NULL: max_bw alone */
	struct qos *qos;
	struct qos_claim claim;		/* min_bw, max_bw, weight 1 */
	uint64_t capacity;		/* the switch's bits/s */
	uint64_t qos_due;		/* next update, CLOCK_MONOTONIC ns */
	uint64_t qos_last_ns, qos_last_bytes;
	bool held;			/* the bucket held a frame since */
	uint8_t config[CONFIG_LEN];
	struct vmm_nic_stats st;	/* under vdev.lock */
	/* a frame read from the TAP that waits for guest buffers */
	uint8_t *rxbuf;
	size_t rx_len;
	bool rx_have;
	/* buffers taken for it so far (mergeable) */
	int nrx;
	struct vq_chain *rxc;
	/* a frame the guest sent that waits for QoS tokens until tx_due */
	uint8_t *txbuf;
	struct vq_chain txc;
	bool tx_pending, tx_wait;
	uint64_t tx_due;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- receive: TAP -> guest --------------------------------------------- */

/* take guest buffers until the frame fits; false if they ran out (the
   ones taken are kept for next time) */
static bool
rx_gather(struct virtio_net *n, int max)
{
	uint32_t room = 0;

	for (int i = 0; i < n->nrx; i++)
		room += n->rxc[i].in_len;
	while (room < n->rx_len) {
		if (n->nrx == max)
			return false;
		if (virtq_pop(&n->vdev, RXQ, &n->rxc[n->nrx]) != 1)
			return false;
		room += n->rxc[n->nrx++].in_len;
	}
	return true;
}

/* deliver the pending frame; false while it waits for buffers */
static bool
rx_deliver(struct virtio_net *n)
{
	bool mrg = virtio_has(&n->vdev, NET_F_MRG_RXBUF);
	int max = mrg ? RX_CHAINS : 1;
	size_t off = 0;

	if (!rx_gather(n, max)) {
		if (n->nrx < max)
			return false;
		/* every buffer it may take is too small: drop the frame */
		n->st.rx_too_big++;
		for (int i = 0; i < n->nrx; i++)
			virtq_push(&n->vdev, RXQ, n->rxc[i].head, 0);
		n->nrx = 0;
		return true;
	}
	put_le16(n->rxbuf + 10, (uint16_t)n->nrx);	/* num_buffers */
	for (int i = 0; i < n->nrx; i++) {
		uint32_t len = n->rxc[i].in_len;

		if (len > n->rx_len - off)
			len = (uint32_t)(n->rx_len - off);
		vq_chain_write(&n->rxc[i], 0, n->rxbuf + off, len);
		virtq_push(&n->vdev, RXQ, n->rxc[i].head, len);
		off += len;
	}
	n->nrx = 0;
	n->st.rx_packets++;
	n->st.rx_bytes += n->rx_len - HDR_LEN;
	return true;
}

/* read the TAP until it is empty or the guest has no buffers */
static void
rx_pump(struct virtio_net *n)
{
	bool pushed = false;

	while (virtio_live(&n->vdev) && n->vdev.vq[RXQ].enabled) {
		if (!n->rx_have) {
			ssize_t r = read(n->tap, n->rxbuf, BUF_MAX);
			enum net_verdict v;
			size_t flen;

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				if (errno != EAGAIN)
					vmm_log(n->vdev.vm, "%s: tap read: %s", n->vdev.name, strerror(errno));
				break;
			}
			if (r < HDR_LEN + 14)
				continue;
			flen = (size_t)r - HDR_LEN;
			v = net_vlan_untag(&n->pol, n->rxbuf + HDR_LEN, &flen);
			if (v == NET_PASS)
				v = net_filter_in(&n->pol, n->rxbuf + HDR_LEN, flen);
			if (v != NET_PASS) {
				n->st.drops[v]++;
				continue;
			}
			/* no offloads: the header the guest sees says nothing */
			memset(n->rxbuf, 0, HDR_LEN);
			n->rx_len = HDR_LEN + flen;
			n->rx_have = true;
		}
		if (!rx_deliver(n))
			break;
		n->rx_have = false;
		pushed = true;
	}
	if (pushed)
		virtq_notify_guest(&n->vdev, RXQ);
}

static void
tap_ready(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	rx_pump(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/* --- transmit: guest -> TAP -------------------------------------------- */

/* the timer at the first of: tokens for the waiting frame, the next
   QoS update; false if it could not be set */
static bool
arm_timer(struct virtio_net *n)
{
	uint64_t due = n->tx_wait ? n->tx_due : NEVER;
	struct itimerspec its = { 0 };

	if (n->qos != NULL && n->qos_due < due)
		due = n->qos_due;
	if (due == NEVER)
		return true;
	its.it_value.tv_sec = (time_t)(due / 1000000000ull);
	its.it_value.tv_nsec = (long)(due % 1000000000ull);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(n->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0;
}

/* hold the frame back until the bucket has its tokens; at least
   TX_WAIT_MIN_NS, so a port at its rate wakes for a few frames at a
   time rather than for each (the bucket holds more than that much) */
static void
tx_hold(struct virtio_net *n, uint64_t now, uint64_t wait)
{
	if (wait < TX_WAIT_MIN_NS)
		wait = TX_WAIT_MIN_NS;
	n->st.throttled++;
	n->held = true;
	n->tx_wait = true;
	n->tx_due = now + wait;
	if (!arm_timer(n))
		n->tx_wait = false;	/* the next kick tries again */
}

/* one frame the guest sent; false if QoS holds it back */
static bool
tx_one(struct virtio_net *n)
{
	uint32_t len = n->txc.out_len;
	enum net_verdict v;
	uint64_t wait = 0, now;
	size_t wlen;

	if (len < HDR_LEN + 14 || len > BUF_MAX) {
		n->st.drops[NET_DROP_MALFORMED]++;
		return true;
	}
	vq_chain_read(&n->txc, 0, n->txbuf, len);
	v = net_filter_out(&n->pol, n->txbuf + HDR_LEN, len - HDR_LEN);
	if (v != NET_PASS) {
		n->st.drops[v]++;
		return true;
	}
	now = now_ns();
	if (!net_bucket_take(&n->bucket, (uint64_t)(len - HDR_LEN) * 8, now, &wait)) {
		tx_hold(n, now, wait);
		return false;
	}
	/* nothing was negotiated that the header could ask for */
	memset(n->txbuf, 0, HDR_LEN);
	wlen = HDR_LEN + net_vlan_tag(&n->pol, n->txbuf + HDR_LEN, len - HDR_LEN);
	if (write(n->tap, n->txbuf, wlen) != (ssize_t)wlen) {
		n->st.tx_errors++;
		return true;
	}
	n->st.tx_packets++;
	n->st.tx_bytes += len - HDR_LEN;
	return true;
}

/*
 * A VM that arrived from another host: a RARP request from its MAC (what
 * QEMU's announce sends), so every bridge on the way learns its new port
 * at once. Else they send its frames to the old host until their entry
 * ages out (300 s) or the guest happens to speak first: a real server
 * that only answers pings stayed unreachable after its move.
 */
void
virtio_net_announce(struct virtio_net *n)
{
	uint8_t buf[HDR_LEN + 60 + 4] = { 0 };
	uint8_t *f = buf + HDR_LEN;
	static const uint8_t rarp[10] = {
		0x80, 0x35,		/* ethertype: RARP */
		0x00, 0x01, 0x08, 0x00,	/* Ethernet, IPv4 */
		6, 4, 0x00, 0x03	/* lengths; op 3: request reverse */
	};
	size_t wlen;

	memset(f, 0xFF, 6);
	memcpy(f + 6, n->config, 6);	/* config space starts with the MAC */
	memcpy(f + 12, rarp, sizeof rarp);
	memcpy(f + 22, n->config, 6);	/* sender: us; IPs 0 */
	memcpy(f + 32, n->config, 6);	/* target: us */
	wlen = HDR_LEN + net_vlan_tag(&n->pol, f, 60);
	if (write(n->tap, buf, wlen) != (ssize_t)wlen) {
		pthread_mutex_lock(&n->vdev.lock);
		n->st.tx_errors++;
		pthread_mutex_unlock(&n->vdev.lock);
	}
}

static void
tx_pump(struct virtio_net *n)
{
	bool pushed = false;

	if (n->tx_wait)
		return;		/* the timer resumes us */
	for (;;) {
		if (!n->tx_pending) {
			if (virtq_pop(&n->vdev, TXQ, &n->txc) != 1)
				break;
			n->tx_pending = true;
		}
		if (!tx_one(n))
			break;
		virtq_push(&n->vdev, TXQ, n->txc.head, 0);
		n->tx_pending = false;
		pushed = true;
	}
	if (pushed)
		virtq_notify_guest(&n->vdev, TXQ);
}

/* --- minimum bandwidth: the switch's QoS arbiter ----------------------- */

/* the least rate a port is left with, so it can still say it wants more */
static uint64_t
arbiter_floor(uint64_t capacity)
{
	uint64_t f = capacity / 100;

	return f < 100000 ? 100000 : f;
}

/* the bucket's rate for a grant: never under the floor nor over max_bw */
static uint64_t
arbiter_rate(const struct virtio_net *n, uint64_t grant)
{
	if (grant < arbiter_floor(n->capacity))
		grant = arbiter_floor(n->capacity);
	if (n->claim.limit != 0 && grant > n->claim.limit)
		grant = n->claim.limit;
	return grant;
}

/* a new rate for the bucket, keeping the tokens it has (up to the new
   burst) */
static void
bucket_retune(struct net_bucket *b, uint64_t rate, uint64_t now)
{
	uint64_t wait, old = b->rate;
	double tokens;

	if (rate == old)
		return;
	net_bucket_take(b, 0, now, &wait);	/* refill at the old rate */
	tokens = b->tokens;
	net_bucket_init(b, rate, now);
	if (old != 0 && tokens < b->tokens)
		b->tokens = tokens;
}

/* what the port wants next period: all it can get if the bucket held
   the guest back, else what it sent with a quarter more to grow into */
static uint64_t
arbiter_demand(struct virtio_net *n, uint64_t now)
{
	uint64_t dt = now - n->qos_last_ns, bits = (n->st.tx_bytes - n->qos_last_bytes) * 8;
	uint64_t rate = dt ? (uint64_t)((double)bits * 1e9 / (double)dt) : 0;

	if (n->held || n->tx_wait)
		return QOS_UNBOUNDED;
	return rate + rate / 4 + arbiter_floor(n->capacity);
}

/* the period's update; the table's lock is taken without vdev.lock, so
   vCPUs kicking the queues never wait for other processes */
static void
arbiter_tick(struct virtio_net *n, uint64_t now)
{
	struct qos_claim c;
	uint64_t rate;

	pthread_mutex_lock(&n->vdev.lock);
	c = n->claim;
	c.demand = arbiter_demand(n, now);
	n->held = false;
	n->qos_last_ns = now;
	n->qos_last_bytes = n->st.tx_bytes;
	n->qos_due = now + QOS_PERIOD_NS;
	pthread_mutex_unlock(&n->vdev.lock);

	rate = arbiter_rate(n, qos_update(n->qos, n->capacity, &c));

	pthread_mutex_lock(&n->vdev.lock);
	bucket_retune(&n->bucket, rate, now);
	if (n->tx_wait)
		n->tx_due = now;	/* the waiting frame tries the new rate */
	pthread_mutex_unlock(&n->vdev.lock);
}

static void
timer_fired(void *opaque)
{
	struct virtio_net *n = opaque;
	uint64_t now = now_ns();

	if (n->qos != NULL && now >= n->qos_due)
		arbiter_tick(n, now);
	pthread_mutex_lock(&n->vdev.lock);
	if (n->tx_wait && now >= n->tx_due) {
		n->tx_wait = false;
		tx_pump(n);
	}
	arm_timer(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/* a port on a switch of known capacity joins its arbiter; without one
   (or if the table cannot be had) max_bw alone limits it */
static void
arbiter_join(struct virtio_net *n, const struct vmm_nic_config *nc)
{
	struct hv_err err;
	uint64_t now = now_ns();

	net_bucket_init(&n->bucket, nc->max_bw, now);
	if (nc->capacity == 0 || nc->qos_home == NULL)
		return;
	if (qos_join(&n->qos, nc->qos_home, nc->qos_domain, nc->qos_key, &err) != 0) {
		vmm_log(n->vdev.vm, "%s: minimum bandwidth not honoured: %s", n->vdev.name, err.msg);
		return;
	}
	n->capacity = nc->capacity;
	n->claim = (struct qos_claim){ .reserve = nc->min_bw, .limit = nc->max_bw, .weight = 1 };
	/* demand 0 so far: the floor until the first period says more */
	net_bucket_init(&n->bucket, arbiter_rate(n, qos_update(n->qos, n->capacity, &n->claim)), now);
	n->qos_last_ns = now;
	n->qos_due = now + QOS_PERIOD_NS;
}

/* --- device ------------------------------------------------------------ */

static void
net_notify(struct virtio_dev *d, int q)
{
	struct virtio_net *n = (struct virtio_net *)d;

	if (q == TXQ)
		tx_pump(n);
	else if (q == RXQ)
		rx_pump(n);	/* new buffers: deliver what waited */
}

static void
net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = (struct virtio_net *)d;

	/* the chains we held belong to rings that no longer exist */
	n->nrx = 0;
	n->tx_pending = false;
}

static const struct virtio_ops net_ops = {
	.notify = net_notify,
	.reset = net_reset,
};

int
virtio_net_create(struct vmm *vm, const struct vmm_nic_config *nc,
		  struct hv_err *err)
{
	struct virtio_net *n;
	char name[24];

	if (vm->nnet >= VMM_MAX_NICS)
		return hv_fail(err, HV_EINVAL, "too many network adapters");
	if ((n = calloc(1, sizeof *n)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vm->net[vm->nnet++] = n;	/* vmm_destroy frees it from here */
	n->tap = nc->tap_fd;
	n->timer_fd = -1;
	snprintf(name, sizeof name, "virtio-net%d", vm->nnet - 1);
	virtio_init(&n->vdev, vm, &vm->mem, name, VIRTIO_ID_NET, 2, QUEUE_SIZE);
	n->rxbuf = malloc(BUF_ROOM);
	n->txbuf = malloc(BUF_ROOM);
	n->rxc = calloc(RX_CHAINS, sizeof *n->rxc);
	if (n->rxbuf == NULL || n->txbuf == NULL || n->rxc == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	n->pol = nc->policy;
	n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->timer_fd < 0)
		return hv_fail(err, HV_EIO, "%s: timerfd: %s", name, strerror(errno));
	arbiter_join(n, nc);
	memcpy(n->config, nc->policy.mac, 6);
	put_le16(n->config + 6, NET_S_LINK_UP);
	put_le16(n->config + 8, 1);		/* max_virtqueue_pairs */
	n->vdev.host_features |= 1ull << NET_F_MAC | 1ull << NET_F_STATUS |
				 1ull << NET_F_MRG_RXBUF;
	n->vdev.config = n->config;
	n->vdev.config_len = CONFIG_LEN;
	n->vdev.ops = &net_ops;
	/* a burst the guest sends goes out on its own vCPU: no wakeup of
	   another thread per kick (measured: bench/net) */
	n->vdev.vcpu_kicks = 1u << TXQ;
	n->vdev.rom = vm->nic_rom;
	n->vdev.rom_len = vm->nic_rom_len;
	if (io_watch_raw(vm, n->tap, tap_ready, n) != 0 ||
	    io_watch(vm, n->timer_fd, timer_fired, n) != 0 || !arm_timer(n))
		return hv_fail(err, HV_EIO, "%s: cannot watch the TAP or its timer", name);
	return virtio_pci_add(vm, &n->vdev, 0x020000, &n->vp, err);
}

void
virtio_net_destroy(struct virtio_net *n)
{
	if (n == NULL)
		return;
	virtio_pci_free(n->vp);
	if (n->tap >= 0)
		close(n->tap);
	if (n->timer_fd >= 0)
		close(n->timer_fd);
	qos_leave(n->qos);
	pthread_mutex_destroy(&n->vdev.lock);
	free(n->rxbuf);
	free(n->txbuf);
	free(n->rxc);
	free(n);
}

void
virtio_net_stats(struct virtio_net *n, struct vmm_nic_stats *s)
{
	pthread_mutex_lock(&n->vdev.lock);
	*s = n->st;
	pthread_mutex_unlock(&n->vdev.lock);
}

/* the core's view, for the VM's saved state (snapshot.c) */
struct virtio_dev *
virtio_net_vdev(struct virtio_net *n)
{
	return &n->vdev;
}
