/*
 * net-ip.c - the probe's IPv4 stack over net.c: ARP (answers, a small
 * cache, resolving with retries), ICMP echo (answered; icmp-ping), a UDP
 * echo server on port 7 and the UDP commands.  Untagged Ethernet only, no
 * fragments, no routing: peers must be on the link.  Every length comes
 * from the frame and is checked against what net.c says arrived.
 *
 *   udp-send dev=N dst=IP port=P count=N size=S [wait=MS]
 *   udp-stream dev=N dst=IP port=P seconds=T size=S
 *   udp-sink dev=N port=P seconds=T
 *   icmp-ping dev=N dst=IP count=N [wait=MS]
 */
#include "tests/guest/probe.h"

#define ETH_ZLEN		60	/* shortest frame, FCS excluded */
#define ARP_LEN			28
#define ARP_REQUEST		1
#define ARP_REPLY		2
#define ARP_TRIES		5
#define ARP_WAIT_US		200000
#define PROTO_ICMP		1
#define ICMP_HLEN		8
#define ICMP_ECHO_REPLY		0
#define ICMP_ECHO		8
#define ECHO_PORT		7
#define SEND_PORT		40000	/* + dev: udp-send's echoes come back here */
#define PING_DATA		56
#define STREAM_KICK		32	/* frames queued per notify */
#define STREAM_POLL		64	/* frames sent per rx poll */

const uint8_t eth_bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t eth_zero[ETH_ALEN];

struct pkt {			/* a received IPv4 datagram */
	const uint8_t *smac;	/* its Ethernet source */
	uint32_t src;
	const uint8_t *l4;	/* ICMP or UDP header */
	uint32_t len;		/* l4 to the end of the IP total length */
};

/* ---- arguments ---- */

static const char *
arg_value(const char *args, const char *key)
{
	size_t klen = strlen(key);

	while (*args) {
		while (*args == ' ')
			args++;
		if (!strncmp(args, key, klen) && args[klen] == '=')
			return args + klen + 1;
		while (*args && *args != ' ')
			args++;
	}
	return NULL;
}

static bool
parse_dec(const char **p, uint32_t max, uint32_t *v)
{
	const char *s = *p;
	uint32_t n = 0;

	while (**p >= '0' && **p <= '9' && *p - s < 3)
		n = n * 10 + (*(*p)++ - '0');
	*v = n;
	return *p > s && n <= max;
}

/* key=A.B.C.D, or A.B.C.D/P where the caller asks for a prefix */
bool
arg_ip(const char *args, const char *key, uint32_t *ip, unsigned int *prefix)
{
	const char *p = arg_value(args, key);
	uint32_t v = 0, o;
	int i;

	for (i = 0; p && i < 4; i++) {
		if (!parse_dec(&p, 255, &o) || (i < 3 && *p++ != '.'))
			return false;
		v = v << 8 | o;
	}
	if (!p)
		return false;
	if (*p == '/' && prefix) {
		p++;
		if (!parse_dec(&p, 32, &o))
			return false;
		*prefix = o;
	}
	if (*p && *p != ' ')
		return false;
	*ip = v;
	return true;
}

/* no argument outside known[]; else say how the command is used */
bool
net_usage_ok(const char *cmd, const char *args, const char *const *known,
	     const char *usage)
{
	if (!arg_has_unknown(args, known))
		return true;
	pr("%s: FAIL usage: %s %s\n", cmd, cmd, usage);
	return false;
}

/* ---- checksums (RFC 1071), big-endian 16-bit words ---- */

uint32_t
net_csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t s = sum;

	for (; len > 1; p += 2, len -= 2)
		s += get_be16(p);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint32_t)s;
}

uint16_t
net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- frames out ---- */

/* a tx buffer with its Ethernet header; returns where the payload goes */
uint8_t *
eth_begin(struct nic *n, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	uint8_t *f = nic_tx_buf(n);

	if (!f)
		return NULL;
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, src ? src : n->mac, ETH_ALEN);
	put_be16(f + 12, type);
	return f + ETH_HLEN;
}

/* pads to the shortest frame (buffers are reused: the pad is zeroed) */
void
eth_send(struct nic *n, uint8_t *l3, uint32_t l3len, bool kick)
{
	if (l3len < ETH_ZLEN - ETH_HLEN) {
		memset(l3 + l3len, 0, ETH_ZLEN - ETH_HLEN - l3len);
		l3len = ETH_ZLEN - ETH_HLEN;
	}
	nic_tx_send(n, ETH_HLEN + l3len, kick);
}

static uint8_t *
ip_begin(struct nic *n, const uint8_t *dmac, const uint8_t *smac,
	 uint32_t dst, uint8_t proto, uint16_t l4len)
{
	uint8_t *ip = eth_begin(n, dmac, smac, ETH_P_IP);

	if (!ip)
		return NULL;
	ip[0] = 0x45;			/* version 4, 20-byte header */
	ip[1] = 0;
	put_be16(ip + 2, IP_HLEN + l4len);
	put_be16(ip + 4, n->ip_id++);
	put_be16(ip + 6, 0x4000);	/* don't fragment */
	ip[8] = 64;
	ip[9] = proto;
	put_be16(ip + 10, 0);
	put_be32(ip + 12, n->ip);
	put_be32(ip + 16, dst);
	put_be16(ip + 10, net_csum_fold(net_csum_add(0, ip, IP_HLEN)));
	return ip + IP_HLEN;
}

static void
ip_send(struct nic *n, uint8_t *l4, uint16_t l4len, bool kick)
{
	eth_send(n, l4 - IP_HLEN, IP_HLEN + l4len, kick);
}

uint8_t *
udp_begin(struct nic *n, const struct net_peer *to, const uint8_t *smac,
	  uint16_t sport, uint16_t len)
{
	uint8_t *u = ip_begin(n, to->mac, smac, to->ip, PROTO_UDP, UDP_HLEN + len);

	if (!u)
		return NULL;
	put_be16(u, sport);
	put_be16(u + 2, to->port);
	put_be16(u + 4, UDP_HLEN + len);
	put_be16(u + 6, 0);
	return u + UDP_HLEN;
}

/* the checksum over pseudo header and datagram, then out it goes */
void
udp_finish(struct nic *n, uint8_t *data, uint16_t len, bool kick)
{
	uint8_t *u = data - UDP_HLEN, *ip = u - IP_HLEN;
	uint32_t sum = net_csum_add(0, ip + 12, 8) + PROTO_UDP + UDP_HLEN + len;
	uint16_t c = net_csum_fold(net_csum_add(sum, u, UDP_HLEN + len));

	put_be16(u + 6, c ? c : 0xFFFF);
	ip_send(n, u, UDP_HLEN + len, kick);
}

/* ---- ARP ---- */

static struct arp_entry *
arp_lookup(struct nic *n, uint32_t ip)
{
	int i;

	for (i = 0; i < NET_ARP_SLOTS; i++)
		if (n->arp[i].ip == ip)
			return &n->arp[i];
	return NULL;
}

static void
arp_learn(struct nic *n, uint32_t ip, const uint8_t *mac)
{
	struct arp_entry *e = arp_lookup(n, ip);

	if (!ip || (mac[0] & 1))
		return;		/* probes and multicast senders teach nothing */
	if (!e)
		e = &n->arp[n->arp_next++ % NET_ARP_SLOTS];
	e->ip = ip;
	memcpy(e->mac, mac, ETH_ALEN);
}

static void
arp_send(struct nic *n, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = eth_begin(n, op == ARP_REQUEST ? eth_bcast : tha, NULL,
			       ETH_P_ARP);

	if (!a)
		return;
	put_be16(a, 1);			/* Ethernet */
	put_be16(a + 2, ETH_P_IP);
	a[4] = ETH_ALEN;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, n->mac, ETH_ALEN);
	put_be32(a + 14, n->ip);
	memcpy(a + 18, op == ARP_REQUEST ? eth_zero : tha, ETH_ALEN);
	put_be32(a + 24, tpa);
	eth_send(n, a, ARP_LEN, true);
}

static void
arp_rx(struct nic *n, const uint8_t *f, uint32_t len)
{
	const uint8_t *a = f + ETH_HLEN;
	uint32_t spa, tpa;

	if (len < ETH_HLEN + ARP_LEN || get_be16(a) != 1 ||
	    get_be16(a + 2) != ETH_P_IP || a[4] != ETH_ALEN || a[5] != 4) {
		n->st.rx_bad++;
		return;
	}
	n->st.arp++;
	spa = get_be32(a + 14);
	tpa = get_be32(a + 24);
	if (!n->ip || tpa != n->ip)
		return;
	arp_learn(n, spa, a + 8);
	if (get_be16(a + 6) == ARP_REQUEST)
		arp_send(n, ARP_REPLY, a + 8, spa);
}

static const struct arp_entry *
arp_wait(struct nic *n, uint32_t ip, uint64_t us)
{
	uint64_t end = now_us() + us;
	const struct arp_entry *e;

	while (!(e = arp_lookup(n, ip)) && now_us() < end)
		net_poll();
	return e;
}

static bool
is_bcast(const struct nic *n, uint32_t ip)
{
	return ip == 0xFFFFFFFF || (n->mask != 0xFFFFFFFF && ip == (n->ip | ~n->mask));
}

static int
arp_resolve(struct nic *n, uint32_t ip, uint8_t *mac)
{
	const struct arp_entry *e;
	int t;

	if (is_bcast(n, ip)) {
		memcpy(mac, eth_bcast, ETH_ALEN);
		return 0;
	}
	e = arp_lookup(n, ip);
	for (t = 0; !e && t < ARP_TRIES; t++) {
		arp_send(n, ARP_REQUEST, NULL, ip);
		e = arp_wait(n, ip, ARP_WAIT_US);
	}
	if (!e)
		return -1;
	memcpy(mac, e->mac, ETH_ALEN);
	return 0;
}

/* dst=IP [port=P] from the arguments, its MAC through ARP */
int
peer_resolve(struct nic *n, const char *cmd, const char *args,
	     struct net_peer *to)
{
	uint64_t port = arg_u64_or(args, "port", ECHO_PORT);

	if (!arg_ip(args, "dst", &to->ip, NULL)) {
		pr("%s: FAIL needs dst=A.B.C.D\n", cmd);
		return -1;
	}
	if (!port || port > 65535) {
		pr("%s: FAIL port must be 1..65535\n", cmd);
		return -1;
	}
	to->port = (uint16_t)port;
	if ((to->ip ^ n->ip) & n->mask && !is_bcast(n, to->ip)) {
		pr("%s: FAIL " IP_FMT " is not on the link (no routes)\n", cmd,
		   IP_ARGS(to->ip));
		return -1;
	}
	if (arp_resolve(n, to->ip, to->mac)) {
		pr("%s: FAIL no ARP reply from " IP_FMT "\n", cmd, IP_ARGS(to->ip));
		return -1;
	}
	return 0;
}

/* ---- frames in ---- */

static void
icmp_rx(struct nic *n, const struct pkt *p)
{
	const uint8_t *m = p->l4;
	uint8_t *r;

	if (p->len < ICMP_HLEN || net_csum_fold(net_csum_add(0, m, p->len))) {
		n->st.rx_bad++;
		return;
	}
	n->st.icmp++;
	if (m[0] == ICMP_ECHO_REPLY && n->ping_id &&
	    get_be16(m + 4) == n->ping_id && get_be16(m + 6) == n->ping_seq)
		n->ping_got = true;
	if (m[0] != ICMP_ECHO || p->len > ETH_MTU - IP_HLEN)
		return;
	r = ip_begin(n, p->smac, NULL, p->src, PROTO_ICMP, (uint16_t)p->len);
	if (!r)
		return;
	memcpy(r, m, p->len);
	r[0] = ICMP_ECHO_REPLY;
	put_be16(r + 2, 0);
	put_be16(r + 2, net_csum_fold(net_csum_add(0, r, p->len)));
	ip_send(n, r, (uint16_t)p->len, false);	/* nic_poll() kicks */
}

static void
udp_echo(struct nic *n, const struct pkt *p, uint16_t sport,
	 const uint8_t *data, uint16_t len)
{
	struct net_peer to = { .ip = p->src, .port = sport };
	uint8_t *d;

	memcpy(to.mac, p->smac, ETH_ALEN);
	d = udp_begin(n, &to, NULL, ECHO_PORT, len);
	if (!d)
		return;
	memcpy(d, data, len);
	udp_finish(n, d, len, false);
}

static void
udp_rx(struct nic *n, const struct pkt *p)
{
	const uint8_t *u = p->l4;
	uint16_t sport, dport, len;

	if (p->len < UDP_HLEN || get_be16(u + 4) < UDP_HLEN ||
	    get_be16(u + 4) > p->len) {
		n->st.rx_bad++;
		return;
	}
	n->st.udp++;
	sport = get_be16(u);
	dport = get_be16(u + 2);
	len = get_be16(u + 4) - UDP_HLEN;
	if (n->sink_port && dport == n->sink_port) {
		n->sink_packets++;
		n->sink_bytes += len;
	}
	if (n->reply_port && dport == n->reply_port && len == n->reply_size)
		n->replies++;
	/* never answer another echo port: two of them would ping-pong */
	if (dport == ECHO_PORT && sport && sport != ECHO_PORT && len <= UDP_MAX)
		udp_echo(n, p, sport, u + UDP_HLEN, len);
}

static void
ipv4_rx(struct nic *n, const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t hl, total, dst;
	struct pkt p;

	if (len < ETH_HLEN + IP_HLEN)
		goto bad;
	hl = (ip[0] & 0xF) * 4u;
	total = get_be16(ip + 2);
	if (ip[0] >> 4 != 4 || hl < IP_HLEN || total < hl ||
	    total > len - ETH_HLEN || net_csum_fold(net_csum_add(0, ip, hl)))
		goto bad;
	dst = get_be32(ip + 16);
	if ((get_be16(ip + 6) & 0x3FFF) ||	/* a fragment */
	    !n->ip || (dst != n->ip && !is_bcast(n, dst))) {
		n->st.other++;
		return;
	}
	p = (struct pkt){ f + ETH_ALEN, get_be32(ip + 12), ip + hl, total - hl };
	if (ip[9] == PROTO_ICMP)
		icmp_rx(n, &p);
	else if (ip[9] == PROTO_UDP)
		udp_rx(n, &p);
	else
		n->st.other++;
	return;
bad:
	n->st.rx_bad++;
}

/* one frame from net.c, len >= ETH_HLEN; only ours and broadcasts */
void
net_rx(struct nic *n, const uint8_t *f, uint32_t len)
{
	if (memcmp(f, n->mac, ETH_ALEN) && memcmp(f, eth_bcast, ETH_ALEN)) {
		n->st.other++;
		return;
	}
	switch (get_be16(f + 12)) {
	case ETH_P_ARP:
		arp_rx(n, f, len);
		break;
	case ETH_P_IP:
		ipv4_rx(n, f, len);
		break;
	default:
		n->st.other++;
	}
}

/* ---- commands ---- */

/* payload: an 8-byte big-endian counter, then a byte pattern */
static int
udp_counted(struct nic *n, const struct net_peer *to, uint16_t sport,
	    uint64_t seq, uint16_t size, bool kick)
{
	uint8_t *d = udp_begin(n, to, NULL, sport, size), c[8];
	uint16_t i;

	if (!d)
		return -1;
	put_be32(c, (uint32_t)(seq >> 32));
	put_be32(c + 4, (uint32_t)seq);
	for (i = 0; i < size; i++)
		d[i] = i < 8 ? c[i] : (uint8_t)(i ^ 0x5A);
	udp_finish(n, d, size, kick);
	return 0;
}

static unsigned long
mbit(uint64_t bytes, uint64_t us)
{
	return (unsigned long)(bytes * 8 / (us ? us : 1));
}

int
cmd_udp_send(const char *args)
{
	static const char *const known[] = { "dev", "dst", "port", "count",
					     "size", "wait", NULL };
	struct nic *n = nic_get("udp-send", args);
	uint64_t count = arg_u64_or(args, "count", 1), i, end;
	uint64_t size = arg_u64_or(args, "size", 64);
	struct net_peer to;

	if (!n || !net_usage_ok("udp-send", args, known,
				"dev=N dst=IP port=P count=N size=S [wait=MS]"))
		return -1;
	if (size < 8 || size > UDP_MAX) {
		pr("udp-send: FAIL size must be 8..%u\n", UDP_MAX);
		return -1;
	}
	if (peer_resolve(n, "udp-send", args, &to))
		return -1;
	n->reply_port = SEND_PORT + n->index;
	n->reply_size = (uint16_t)size;
	n->replies = 0;
	for (i = 0; i < count; i++) {
		if (udp_counted(n, &to, n->reply_port, i, (uint16_t)size, true))
			break;
		net_poll();
	}
	end = now_us() + arg_u64_or(args, "wait", 1000) * 1000;
	while (n->replies < i && now_us() < end)
		net_poll();
	n->reply_port = 0;
	pr("udp-send: ok sent=%lu received=%lu\n", (unsigned long)i,
	   (unsigned long)n->replies);
	return 0;
}

int
cmd_udp_stream(const char *args)
{
	static const char *const known[] = { "dev", "dst", "port", "seconds",
					     "size", NULL };
	struct nic *n = nic_get("udp-stream", args);
	uint64_t secs = arg_u64_or(args, "seconds", 1), sent, t0, end;
	uint64_t size = arg_u64_or(args, "size", UDP_MAX);
	struct net_peer to;

	if (!n || !net_usage_ok("udp-stream", args, known,
				"dev=N dst=IP port=P seconds=T size=S"))
		return -1;
	if (!secs || secs > 3600 || size > UDP_MAX) {
		pr("udp-stream: FAIL seconds must be 1..3600, size 0..%u\n", UDP_MAX);
		return -1;
	}
	if (peer_resolve(n, "udp-stream", args, &to))
		return -1;
	t0 = now_us();
	end = t0 + secs * 1000000;
	for (sent = 0; now_us() < end; sent++) {
		if (udp_counted(n, &to, SEND_PORT + n->index, sent, (uint16_t)size,
				sent % STREAM_KICK == STREAM_KICK - 1)) {
			pr("udp-stream: FAIL tx ring stuck after %lu\n",
			   (unsigned long)sent);
			return -1;
		}
		if (sent % STREAM_POLL == 0)
			net_poll();	/* ARP and pings keep working */
	}
	nic_tx_kick(n);
	pr("udp-stream: ok sent=%lu bytes=%lu seconds=%lu mbit=%lu\n",
	   (unsigned long)sent, (unsigned long)(sent * size),
	   (unsigned long)secs, mbit(sent * size, now_us() - t0));
	return 0;
}

int
cmd_udp_sink(const char *args)
{
	static const char *const known[] = { "dev", "port", "seconds", NULL };
	struct nic *n = nic_get("udp-sink", args);
	uint64_t secs = arg_u64_or(args, "seconds", 1), port, t0, end;

	if (!n || !net_usage_ok("udp-sink", args, known,
				"dev=N port=P seconds=T"))
		return -1;
	if (!arg_u64(args, "port", &port) || !port || port > 65535 ||
	    !secs || secs > 3600) {
		pr("udp-sink: FAIL port must be 1..65535, seconds 1..3600\n");
		return -1;
	}
	n->sink_port = (uint16_t)port;
	n->sink_packets = n->sink_bytes = 0;
	t0 = now_us();
	end = t0 + secs * 1000000;
	while (now_us() < end)
		net_poll();
	n->sink_port = 0;
	pr("udp-sink: ok packets=%lu bytes=%lu mbit=%lu\n",
	   (unsigned long)n->sink_packets, (unsigned long)n->sink_bytes,
	   mbit(n->sink_bytes, now_us() - t0));
	return 0;
}

static int
ping_send(struct nic *n, const struct net_peer *to, uint16_t seq)
{
	uint8_t *m = ip_begin(n, to->mac, NULL, to->ip, PROTO_ICMP,
			      ICMP_HLEN + PING_DATA);
	int i;

	if (!m)
		return -1;
	m[0] = ICMP_ECHO;
	m[1] = 0;
	put_be16(m + 2, 0);
	put_be16(m + 4, n->ping_id);
	put_be16(m + 6, seq);
	for (i = 0; i < PING_DATA; i++)
		m[ICMP_HLEN + i] = (uint8_t)i;
	put_be16(m + 2, net_csum_fold(net_csum_add(0, m, ICMP_HLEN + PING_DATA)));
	ip_send(n, m, ICMP_HLEN + PING_DATA, true);
	return 0;
}

int
cmd_icmp_ping(const char *args)
{
	static const char *const known[] = { "dev", "dst", "count", "wait", NULL };
	struct nic *n = nic_get("icmp-ping", args);
	uint64_t count = arg_u64_or(args, "count", 1), i, got = 0;
	uint64_t wait = arg_u64_or(args, "wait", 1000) * 1000;
	struct net_peer to;

	if (!n || !net_usage_ok("icmp-ping", args, known,
				"dev=N dst=IP count=N [wait=MS]"))
		return -1;
	if (peer_resolve(n, "icmp-ping", args, &to))
		return -1;
	n->ping_id = 0x6876 + n->index;
	for (i = 0; i < count; i++) {
		uint64_t end = now_us() + wait;

		n->ping_seq = (uint16_t)(i + 1);
		n->ping_got = false;
		if (ping_send(n, &to, n->ping_seq))
			break;
		while (!n->ping_got && now_us() < end)
			net_poll();
		got += n->ping_got;
	}
	n->ping_id = 0;
	pr("icmp-ping: ok sent=%lu received=%lu\n", (unsigned long)i,
	   (unsigned long)got);
	return 0;
}
