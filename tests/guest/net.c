/*
 * net.c - virtio-net, polled: queue 0 receives into NET_BUF buffers posted
 * once and re-posted after each frame, queue 1 transmits from one NET_BUF
 * buffer per descriptor, reclaimed from the used ring as the device
 * finishes.  No interrupts and no offloads: every frame is whole and
 * carries a zeroed 12-byte virtio_net_hdr (VERSION_1 layout, with or
 * without MRG_RXBUF).  net-ip.c is the IPv4 stack on top.
 *
 * Both queues are live before DRIVER_OK, through virtio.c's bring-up
 * (virtio_begin, virtio_queue, virtio_ready).
 *
 *   net-up dev=N ip=A.B.C.D/P     bring dev N up with that address
 *   net-stats dev=N               frame and protocol counters
 */
#include "tests/guest/probe.h"

/* common configuration (virtio 1.x 4.1.4.3): the config generation */
#define CC_CFGGEN		0x15

#define VIRTIO_NET_F_MAC	(1ull << 5)
#define VIRTIO_NET_F_MRG_RXBUF	(1ull << 15)
#define VIRTIO_NET_F_STATUS	(1ull << 16)
#define NET_FEATURES		(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | \
				 VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS)
#define CFG_MAC			0
#define CFG_STATUS		6
#define LINK_UP			1

#define RXQ			0
#define TXQ			1
#define TX_STUCK_US		2000000	/* a full tx ring this long: drop (QoS may hold it a while) */
#define NET_BUSY_US		200000	/* idle spins this long after a frame */
#define NET_SPIN_US		1000

static struct pci_dev pci_devs[PCI_MAX_DEVS];
static int pci_ndevs = -1;
static struct nic nics[NET_MAX_NICS];
static uint64_t last_rx_us;	/* when net_poll() last found a frame */

/* ---- bring-up ---- */

/* no MAC feature: a locally administered unicast one from the TSC */
static void
made_up_mac(struct nic *n)
{
	uint64_t t = rdtsc();
	int i;

	n->mac[0] = 0x02;
	for (i = 1; i < ETH_ALEN; i++, t >>= 8)
		n->mac[i] = (uint8_t)t;
}

/* MAC and link status, read under the config generation */
static void
read_config(struct nic *n)
{
	volatile uint8_t *c = n->vd.common, *cfg = n->vd.devcfg;
	bool has_mac = cfg && (n->vd.features & VIRTIO_NET_F_MAC);
	bool has_status = cfg && (n->vd.features & VIRTIO_NET_F_STATUS);
	int i, tries = 100;
	uint8_t gen;

	n->link = LINK_UP;	/* without STATUS the link is up (5.1.4.2) */
	do {
		gen = mmio_r8(c + CC_CFGGEN);
		for (i = 0; has_mac && i < ETH_ALEN; i++)
			n->mac[i] = mmio_r8(cfg + CFG_MAC + i);
		if (has_status)
			n->link = mmio_r16(cfg + CFG_STATUS);
	} while (gen != mmio_r8(c + CC_CFGGEN) && --tries);
	if (!has_mac)
		made_up_mac(n);
}

static void
rx_post(struct nic *n, uint16_t id)
{
	n->rx.desc[id] = (struct virtq_desc){
		(uintptr_t)(n->rx_mem + (uint64_t)id * NET_BUF), NET_BUF,
		VIRTQ_DESC_F_WRITE, 0 };
	n->rx_dev[id] = true;
	virtq_push(&n->rx, id);
}

static int
buffers(struct nic *n)
{
	uint16_t i;

	if (!n->rx_mem)
		n->rx_mem = mem_alloc((uint64_t)NET_RX_MAX * NET_BUF, PAGE_SIZE);
	if (!n->tx_mem)
		n->tx_mem = mem_alloc((uint64_t)NET_TX_MAX * NET_BUF, PAGE_SIZE);
	if (!n->rx_mem || !n->tx_mem)
		return -1;
	memset(n->rx_dev, 0, sizeof(n->rx_dev));
	memset(n->tx_dev, 0, sizeof(n->tx_dev));
	n->rx_skip = n->tx_unkicked = 0;
	for (i = 0; i < n->rx.size; i++)
		rx_post(n, i);
	for (i = 0; i < n->tx.size; i++)
		n->tx_free[i] = n->tx.size - 1 - i;
	n->tx_nfree = n->tx.size;
	return 0;
}

/* reset, negotiate, both queues, rx filled, DRIVER_OK (3.1.1) */
static int
nic_start(struct nic *n)
{
	if (virtio_begin(&n->vd, NET_FEATURES))
		return -1;
	if (virtq_mem(&n->rx, NET_RX_MAX) || virtio_queue(&n->vd, &n->rx, RXQ, NET_RX_MAX) ||
	    virtq_mem(&n->tx, NET_TX_MAX) || virtio_queue(&n->vd, &n->tx, TXQ, NET_TX_MAX) ||
	    buffers(n)) {
		virtio_fail(&n->vd);
		return -1;
	}
	read_config(n);
	virtio_ready(&n->vd);
	virtq_kick(&n->rx);
	return 0;
}

/* ---- transmit ---- */

static void
tx_reclaim(struct nic *n)
{
	uint32_t id, len;
	uint16_t budget = n->tx.size;

	while (budget-- && virtq_pop(&n->tx, &id, &len)) {
		if (id >= n->tx.size || !n->tx_dev[id]) {
			n->st.tx_drops++;	/* a bogus id from the device */
			continue;
		}
		n->tx_dev[id] = false;
		n->tx_free[n->tx_nfree++] = (uint16_t)id;
	}
}

void
nic_tx_kick(struct nic *n)
{
	if (n->tx_unkicked)
		virtq_kick(&n->tx);
	n->tx_unkicked = 0;
}

/* the frame area (after the virtio header) of the next free tx buffer */
uint8_t *
nic_tx_buf(struct nic *n)
{
	uint64_t start = 0;
	uint8_t *b;

	while (!n->tx_nfree) {
		nic_tx_kick(n);
		tx_reclaim(n);
		if (n->tx_nfree)
			break;
		if (!start)
			start = now_us();
		else if (now_us() - start > TX_STUCK_US) {
			n->st.tx_drops++;
			return NULL;
		}
		cpu_relax();
	}
	b = n->tx_mem + (uint64_t)n->tx_free[n->tx_nfree - 1] * NET_BUF;
	memset(b, 0, NET_HDR);		/* no checksum, no GSO */
	return b + NET_HDR;
}

/* queue the frame nic_tx_buf() handed out; len bytes from the MACs on */
void
nic_tx_send(struct nic *n, uint32_t len, bool kick)
{
	uint16_t id;

	if (!n->tx_nfree || len > NET_FRAME_MAX)
		return;
	id = n->tx_free[--n->tx_nfree];
	n->tx.desc[id] = (struct virtq_desc){
		(uintptr_t)(n->tx_mem + (uint64_t)id * NET_BUF), NET_HDR + len,
		0, 0 };
	n->tx_dev[id] = true;
	virtq_push(&n->tx, id);
	n->tx_unkicked++;
	n->st.tx_frames++;
	n->st.tx_bytes += len;
	if (kick)
		nic_tx_kick(n);
}

/* ---- receive ---- */

static void
rx_frame(struct nic *n, uint16_t id, uint32_t len)
{
	const uint8_t *b = n->rx_mem + (uint64_t)id * NET_BUF;
	uint16_t nbuf = b[10] | b[11] << 8;	/* num_buffers, LE */

	if (n->rx_skip) {	/* the rest of a frame we could not take */
		n->rx_skip--;
		return;
	}
	if (len > NET_BUF || len < NET_HDR + ETH_HLEN) {
		n->st.rx_bad++;
		return;
	}
	if ((n->vd.features & VIRTIO_NET_F_MRG_RXBUF) && nbuf > 1) {
		n->rx_skip = nbuf - 1 < n->rx.size ? nbuf - 1 : n->rx.size;
		n->st.rx_bad++;
		return;
	}
	n->st.rx_frames++;
	n->st.rx_bytes += len - NET_HDR;
	net_rx(n, b + NET_HDR, len - NET_HDR);
}

/* returns how many frames came in */
static int
nic_poll(struct nic *n)
{
	uint32_t id, len;
	uint16_t budget = n->rx.size, done = 0;

	while (budget-- && virtq_pop(&n->rx, &id, &len)) {
		if (id >= n->rx.size || !n->rx_dev[id]) {
			n->st.rx_bad++;		/* not a buffer it holds */
			continue;
		}
		n->rx_dev[id] = false;
		rx_frame(n, (uint16_t)id, len);
		rx_post(n, (uint16_t)id);
		done++;
	}
	if (done)
		virtq_kick(&n->rx);
	tx_reclaim(n);
	nic_tx_kick(n);
	return done;
}

bool
net_active(void)
{
	int i;

	for (i = 0; i < NET_MAX_NICS; i++)
		if (nics[i].up)
			return true;
	return false;
}

/* every NIC, whichever a command uses: they may be talking to each other */
void
net_poll(void)
{
	int i;

	for (i = 0; i < NET_MAX_NICS; i++)
		if (nics[i].up && nic_poll(&nics[i]))
			last_rx_us = now_us();
}

/*
 * idle(): with a NIC up, poll; while frames came in the last NET_BUSY_US
 * (or there is no timer to halt on) spin on the rings for a millisecond so
 * that traffic is answered at once; when quiet, let idle() halt for
 * NET_TICK_NS, so a quiet probe answers within a millisecond and leaves
 * the host CPU alone.
 */
bool
net_idle(bool can_halt)
{
	uint64_t end;

	if (!net_active())
		return false;
	net_poll();
	if (can_halt && now_us() - last_rx_us > NET_BUSY_US)
		return false;
	end = now_us() + NET_SPIN_US;
	do {
		net_poll();
		cpu_relax();
	} while (now_us() < end);
	return true;
}

/* ---- commands ---- */

static struct nic *
nic_slot(const char *cmd, const char *args)
{
	uint64_t i = arg_u64_or(args, "dev", 0);

	if (i >= NET_MAX_NICS) {
		pr("%s: FAIL dev=%lu out of range\n", cmd, (unsigned long)i);
		return NULL;
	}
	nics[i].index = (int)i;
	return &nics[i];
}

struct nic *
nic_get(const char *cmd, const char *args)
{
	struct nic *n = nic_slot(cmd, args);

	if (n && !n->up) {
		pr("%s: FAIL dev=%d is not up (net-up first)\n", cmd, n->index);
		return NULL;
	}
	return n;
}

static int
nic_open(struct nic *n)
{
	if (pci_ndevs < 0)
		pci_ndevs = pci_scan(pci_devs, PCI_MAX_DEVS);
	if (!n->vd.pci && virtio_find(pci_devs, pci_ndevs, VIRTIO_ID_NET,
				      n->index, &n->vd)) {
		memset(&n->vd, 0, sizeof(n->vd));
		return -1;
	}
	return 0;
}

int
cmd_net_up(const char *args)
{
	static const char *const known[] = { "dev", "ip", NULL };
	struct nic *n = nic_slot("net-up", args);
	unsigned int prefix = 24;
	uint32_t ip;

	if (!n)
		return -1;
	if (!net_usage_ok("net-up", args, known, "dev=N ip=A.B.C.D[/P]"))
		return -1;
	if (!arg_ip(args, "ip", &ip, &prefix)) {
		pr("net-up: FAIL needs ip=A.B.C.D[/P]\n");
		return -1;
	}
	n->up = false;
	if (nic_open(n)) {
		pr("net-up: FAIL no virtio-net dev=%d\n", n->index);
		return -1;
	}
	if (nic_start(n)) {
		pr("net-up: FAIL dev=%d negotiation failed (status=0x%x)\n",
		   n->index, virtio_status(&n->vd));
		return -1;
	}
	n->ip = ip;
	n->mask = prefix ? ~0u << (32 - prefix) : 0;
	memset(n->arp, 0, sizeof(n->arp));
	n->up = true;
	pr("net-up: ok dev=%d mac=%02x:%02x:%02x:%02x:%02x:%02x ip=" IP_FMT
	   " link=%s features=0x%lx prefix=%u rxq=%u txq=%u\n", n->index,
	   n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
	   IP_ARGS(ip), n->link & LINK_UP ? "up" : "down",
	   (unsigned long)n->vd.features, prefix, n->rx.size, n->tx.size);
	return 0;
}

int
cmd_net_stats(const char *args)
{
	struct nic *n = nic_get("net-stats", args);
	const struct net_stats *s;

	if (!n)
		return -1;
	net_poll();
	s = &n->st;
	pr("net-stats: ok dev=%d rx=%lu tx=%lu rx_bytes=%lu tx_bytes=%lu "
	   "rx_bad=%lu tx_drops=%lu arp=%lu icmp=%lu udp=%lu other=%lu\n",
	   n->index, (unsigned long)s->rx_frames, (unsigned long)s->tx_frames,
	   (unsigned long)s->rx_bytes, (unsigned long)s->tx_bytes,
	   (unsigned long)s->rx_bad, (unsigned long)s->tx_drops,
	   (unsigned long)s->arp, (unsigned long)s->icmp,
	   (unsigned long)s->udp, (unsigned long)s->other);
	return 0;
}
