/*
 * virtio-net.c - a network adapter (virtio 1.2, 5.1) on a TAP: one
 * receive and one transmit queue, the MAC and link status in config
 * space, mergeable receive buffers. No checksum or segmentation offload
 * is offered, so every frame is whole and its checksums are the guest's;
 * the TAP's virtio-net header passes through as is.
 *
 * The packet path is the port's: each frame the guest sends passes the
 * MAC, DHCP and router guards, the outbound ACLs and the maximum-
 * bandwidth token bucket; each frame for the guest passes the inbound
 * ACLs. Counters per direction and per drop reason feed metering.
 *
 * Threads: queue kicks come from the I/O thread (ioeventfd) or a vCPU
 * with vdev.lock held; the TAP and the QoS timer are watched by the I/O
 * thread, which takes the lock itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/vm/virtio-net.h"
#include "engine/vm/virtio-pci.h"

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

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	int tap, timer_fd;
	struct net_policy pol;
	struct net_bucket bucket;
	uint8_t config[CONFIG_LEN];
	struct vmm_nic_stats st;	/* under vdev.lock */
	/* a frame read from the TAP that waits for guest buffers */
	uint8_t *rxbuf;
	size_t rx_len;
	bool rx_have;
	/* buffers taken for it so far (mergeable) */
	int nrx;
	struct vq_chain *rxc;
	/* a frame the guest sent that waits for QoS tokens */
	uint8_t *txbuf;
	struct vq_chain txc;
	bool tx_pending, timer_armed;
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

static void
arm_timer(struct virtio_net *n, uint64_t ns)
{
	struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) } };

	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(n->timer_fd, 0, &its, NULL) == 0)
		n->timer_armed = true;
	n->st.throttled++;
}

/* one frame the guest sent; false if QoS holds it back */
static bool
tx_one(struct virtio_net *n)
{
	uint32_t len = n->txc.out_len;
	enum net_verdict v;
	uint64_t wait = 0;
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
	if (!net_bucket_take(&n->bucket, (uint64_t)(len - HDR_LEN) * 8, now_ns(), &wait)) {
		arm_timer(n, wait);
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

static void
tx_pump(struct virtio_net *n)
{
	bool pushed = false;

	if (n->timer_armed)
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

static void
timer_fired(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->vdev.lock);
	n->timer_armed = false;
	tx_pump(n);
	pthread_mutex_unlock(&n->vdev.lock);
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
	net_bucket_init(&n->bucket, nc->max_bw, now_ns());
	n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->timer_fd < 0)
		return hv_fail(err, HV_EIO, "%s: timerfd: %s", name, strerror(errno));
	memcpy(n->config, nc->policy.mac, 6);
	put_le16(n->config + 6, NET_S_LINK_UP);
	put_le16(n->config + 8, 1);		/* max_virtqueue_pairs */
	n->vdev.host_features |= 1ull << NET_F_MAC | 1ull << NET_F_STATUS |
				 1ull << NET_F_MRG_RXBUF;
	n->vdev.config = n->config;
	n->vdev.config_len = CONFIG_LEN;
	n->vdev.ops = &net_ops;
	if (io_watch_raw(vm, n->tap, tap_ready, n) != 0 ||
	    io_watch(vm, n->timer_fd, timer_fired, n) != 0)
		return hv_fail(err, HV_EIO, "%s: cannot watch the TAP", name);
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
