/*
 * probe.h - the probe guest's internal interface (freestanding, ring 3).
 *
 * lib.c: port I/O, serial console, pr() (a small printf), string and
 *        argument helpers, the TSC clock, the page allocator, exit.
 * pci.c: PCI bus 0 scan through 0xCF8/0xCFC, BARs, capability walk.
 * virtio.c: the modern virtio-pci transport and split virtqueues (polled).
 * blk.c: the blk-* and hostile commands, request slots for churn.c.
 * balloon.c: virtio-balloon (polled): balloon-up, idle and mem-touch polling.
 * net.c: virtio-net (polled rx/tx queues), net-up, net-stats, idle polling.
 * net-ip.c: ARP, IPv4, ICMP echo, UDP echo/send/stream/sink, icmp-ping.
 * net-forge.c: frames a rogue guest would send (DHCP offer, RA, MAC spoof).
 * acpi.c: RSDP/XSDT/MADT/FADT/DSDT parsing, acpi, acpi-off, pwrbtn.
 * smp.c: starting the APs (INIT-SIPI-SIPI), the smp command.
 * dirty.c: the dirty workload for migration tests, dirty-check.
 * churn.c: the disk-rewriting workload for migration tests, its check.
 * main.c: hvm_start_info, page tables above 4 GiB, IDT, command dispatch.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* debug-exit codes (QEMU exits with (code << 1) | 1) */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* a command failed */
#define EXIT_FAULT	2	/* CPU exception */
#define EXIT_BADCMD	3	/* the command line made no sense */

#define PAGE_SIZE	4096ull
#define MB		(1024ull * 1024)

/* ---- lib.c ---- */
static inline void outb(uint16_t port, uint8_t v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v)
{ __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v)
{ __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{ uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port)
{ uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port)
{ uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

#define barrier()	__asm__ volatile("" : : : "memory")
#define mb()		__asm__ volatile("mfence" : : : "memory")
#define cpu_relax()	__asm__ volatile("pause" : : : "memory")

/* MMIO: exact-width volatile accesses, never merged or split */
static inline uint8_t mmio_r8(volatile void *p) { return *(volatile uint8_t *)p; }
static inline uint16_t mmio_r16(volatile void *p) { return *(volatile uint16_t *)p; }
static inline uint32_t mmio_r32(volatile void *p) { return *(volatile uint32_t *)p; }
static inline void mmio_w8(volatile void *p, uint8_t v) { *(volatile uint8_t *)p = v; }
static inline void mmio_w16(volatile void *p, uint16_t v) { *(volatile uint16_t *)p = v; }
static inline void mmio_w32(volatile void *p, uint32_t v) { *(volatile uint32_t *)p = v; }

void serial_init(void);
void serial_putc(char c);
int serial_getc(void);		/* -1: nothing waiting */
void pr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vpr(const char *fmt, va_list ap);
void probe_exit(int code) __attribute__((noreturn));

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* "key=value key2=value2": find key, parse its value as a number */
bool arg_u64(const char *args, const char *key, uint64_t *v);
uint64_t arg_u64_or(const char *args, const char *key, uint64_t def);
bool arg_has_unknown(const char *args, const char *const *known);

uint64_t tsc_khz(void);		/* calibrates on first use */
const char *tsc_source(void);
uint64_t now_us(void);
void delay_us(uint64_t us);

/* physical page allocator over the RAM after the image (zeroed memory) */
void mem_init(uint64_t start, uint64_t end);
void *mem_alloc(uint64_t bytes, uint64_t align);	/* NULL: none left */
uint64_t mem_mark(void);
void mem_release(uint64_t mark);
uint64_t mem_free_bytes(void);
/* the balloon's side: whole pages off the pool's top and back */
uint64_t mem_top(void);			/* end of the pool; taken pages above */
uint64_t mem_shrink(uint64_t pages);	/* takes up to pages; how many it took */
void mem_grow(uint64_t pages);		/* gives back the lowest taken pages */

/* ---- main.c ---- */
extern uint64_t ram_top;	/* highest RAM address + 1 */
uint64_t ram_bytes(void);	/* all the E820 RAM the probe sees */
int pt_map_high(uint64_t phys, uint64_t len);	/* uncached, 2 MiB pages */
bool low_range_ok(uint64_t addr, uint64_t len);	/* in the cacheable map */
void idle_halt(void);		/* sti; hlt in ring 0 until an interrupt */

#define LAPIC			((volatile uint8_t *)0xFEE00000ul)
#define LAPIC_ID		0x020
#define LAPIC_EOI		0x0B0
#define LAPIC_SVR		0x0F0
#define LAPIC_IRR		0x200
#define LAPIC_ICR_LO		0x300
#define LAPIC_ICR_HI		0x310

static inline uint8_t lapic_id(void)
{ return mmio_r32(LAPIC + LAPIC_ID) >> 24; }

/* ---- acpi.c ---- */
#define ACPI_MAX_CPUS	256

struct acpi_info {
	uint64_t rsdp;			/* 0: no valid RSDP found */
	int ncpus;			/* enabled local APICs in the MADT */
	uint8_t apic_id[ACPI_MAX_CPUS];
	uint64_t ioapic;		/* first IOAPIC's address, 0: none */
	bool fadt_ok, dsdt_ok;
	uint16_t pm1a_evt, pm1a_cnt;	/* I/O ports, 0: none */
	uint16_t sci;
	int s5_typ;			/* SLP_TYP of \_S5_, -1: none */
};
extern struct acpi_info acpi;
void acpi_init(uint64_t rsdp_paddr);
bool acpi_power_button(void);	/* pressed since last asked (idle) */
void acpi_power_button_arm(void);
int acpi_poweroff(void);	/* S5 through PM1a_CNT; returns if it fails */
int cmd_acpi(const char *args);
int cmd_acpi_off(const char *args);
int cmd_pwrbtn(const char *args);

/* ---- smp.c ---- */
struct ap_boot {			/* entry.S ap_start64 reads it */
	uint64_t rsp0;			/* 0: ring-0 stack top */
	uint64_t rsp3;			/* 8: ring-3 stack top */
	uint64_t arg;			/* 16: ap_main's argument (itself) */
	uint16_t pad[3];
	uint16_t gdt_limit;		/* 30: lgdt operand */
	uint64_t gdt_base;		/* 32 */
	volatile uint32_t alive;	/* 40: set by the AP in ring 3 */
	uint32_t apic_id;
};
int cmd_smp(const char *args);

/* ---- dirty.c ---- */
bool dirty_active(void);	/* idle() must spin, not halt */
void dirty_tick(void);		/* idle(): rewrite what is due, lines, stalls */
int cmd_dirty(const char *args);
int cmd_dirty_check(const char *args);

/* ---- churn.c ---- */
bool churn_active(void);	/* idle() must spin, not halt */
void churn_tick(void);		/* idle(): reap finished writes, start more */
void churn_drain(void);		/* let every churn request finish (blk_get) */
int cmd_blk_churn(const char *args);
int cmd_churn_stop(const char *args);
int cmd_blk_verify_churn(const char *args);

/* ---- pci.c ---- */
struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device, subsys;
	uint64_t bar[6];	/* memory BAR addresses (0: none or I/O) */
	uint64_t bar_len[6];
};

#define PCI_MAX_DEVS	32
int pci_scan(struct pci_dev *devs, int max);
uint32_t pci_read32(const struct pci_dev *d, uint8_t off);
uint16_t pci_read16(const struct pci_dev *d, uint8_t off);
uint8_t pci_read8(const struct pci_dev *d, uint8_t off);
void pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v);
int pci_enable(struct pci_dev *d);	/* assign BARs, map, bus master */

/* ---- virtio.c ---- */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_BALLOON	5

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

struct virtq {
	uint16_t size;
	uint16_t index;
	uint16_t avail_idx;	/* our shadow of avail->idx */
	uint16_t used_seen;	/* used entries consumed */
	struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *notify;
};

#define VIRTIO_STATUS_NEEDS_RESET	0x40

#define VIRTIO_F_INDIRECT_DESC	(1ull << 28)
#define VIRTIO_F_EVENT_IDX	(1ull << 29)
#define VIRTIO_F_VERSION_1	(1ull << 32)

struct virtio_dev {
	struct pci_dev *pci;
	int type;			/* VIRTIO_ID_* */
	volatile uint8_t *common, *isr, *devcfg, *notify_base;
	uint32_t notify_mult;
	uint64_t features;		/* negotiated */
	struct virtq vq;
};

int virtio_find(struct pci_dev *devs, int n, int type, int nth,
		struct virtio_dev *vd);
int virtio_init(struct virtio_dev *vd, uint64_t want_features, uint16_t qsize);
/* the bring-up of a device with several queues (3.1.1): begin (reset,
   features; VERSION_1 required), a queue at a time on ring memory for at
   least `want` entries (virtq_mem allocates it once), then ready or fail */
int virtio_begin(struct virtio_dev *vd, uint64_t want_features);
int virtq_mem(struct virtq *vq, uint16_t entries);
int virtio_queue(struct virtio_dev *vd, struct virtq *vq, uint16_t index,
		 uint16_t want);
void virtio_ready(struct virtio_dev *vd);
void virtio_fail(struct virtio_dev *vd);
void virtio_reset(struct virtio_dev *vd);
uint8_t virtio_status(struct virtio_dev *vd);
uint64_t virtio_cfg_r64(struct virtio_dev *vd, uint32_t off);
void virtq_push(struct virtq *vq, uint16_t head);	/* publish, no kick */
void virtq_kick(struct virtq *vq);
bool virtq_pop(struct virtq *vq, uint32_t *id, uint32_t *len);

/* ---- blk.c ---- */
int cmd_blk_write(const char *args);
int cmd_blk_read(const char *args);
int cmd_blk_flush(const char *args);
int cmd_blk_bench(const char *args);
int cmd_hostile(const char *args);
/* requests by slot, for workloads of their own (churn.c): a slot's buffer
   holds BLK_REQ_SECTORS sectors; wait for every request before returning */
#define BLK_MAX_SLOTS		16
#define BLK_REQ_SECTORS		128	/* 64 KiB */
struct blk;
struct blk *blk_get(const char *cmd, const char *args);	/* dev=N; NULL: said why */
uint64_t blk_capacity(const struct blk *b);	/* sectors */
bool blk_read_only(const struct blk *b);
int blk_slot_free(struct blk *b);		/* -1: all busy */
uint8_t *blk_slot_buf(struct blk *b, int k);
void blk_slot_submit(struct blk *b, int k, bool write, uint64_t sector,
		     uint32_t count);		/* publish; blk_kick() sends */
void blk_kick(struct blk *b);
int blk_slot_wait(struct blk *b, uint8_t *status);	/* -1: hung, said why */
int blk_slot_done(struct blk *b, uint8_t *status);	/* -1: none yet,
							   -2: bogus, said why */
bool blk_needs_reset(struct blk *b);		/* an MMIO read: not in a spin */

/* ---- balloon.c ---- */
void balloon_poll(void);		/* idle() and long commands call it */
uint64_t balloon_pages(void);		/* 4 KiB pages off the pool */
uint64_t balloon_reclaim(uint64_t pages);	/* DEFLATE_ON_OOM; how many */
int cmd_balloon_up(const char *args);

/* ---- byte order on the wire ---- */
static inline uint16_t get_be16(const uint8_t *p)
{ return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{ return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void put_be16(uint8_t *p, uint16_t v)
{ p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{ put_be16(p, v >> 16); put_be16(p + 2, (uint16_t)v); }

/* ---- net.c ---- */
#define ETH_ALEN		6
#define ETH_HLEN		14
#define ETH_MTU			1500
#define NET_BUF			2048	/* per descriptor, virtio header included */
#define NET_HDR			12	/* virtio_net_hdr with VERSION_1 */
#define NET_FRAME_MAX		(NET_BUF - NET_HDR)
#define NET_RX_MAX		128
#define NET_TX_MAX		256
#define NET_MAX_NICS		4
#define NET_ARP_SLOTS		16

struct net_stats {
	uint64_t rx_frames, rx_bytes, rx_bad, tx_frames, tx_bytes, tx_drops;
	uint64_t arp, icmp, udp, other;
};

struct arp_entry {
	uint32_t ip;			/* 0: empty */
	uint8_t mac[ETH_ALEN];
};

struct nic {
	int index;			/* dev=N: the Nth virtio-net */
	bool up;
	struct virtio_dev vd;		/* transport; vd.vq is unused */
	struct virtq rx, tx;		/* queue 0, queue 1 */
	uint8_t *rx_mem, *tx_mem;	/* NET_BUF per descriptor */
	bool rx_dev[NET_RX_MAX];	/* the device holds this rx buffer */
	bool tx_dev[NET_TX_MAX];	/* ... this tx buffer */
	uint16_t tx_free[NET_TX_MAX], tx_nfree, tx_unkicked;
	uint16_t rx_skip;		/* continuation buffers to drop */
	uint16_t link;			/* config status, 1 = up */
	uint8_t mac[ETH_ALEN];
	uint32_t ip, mask;		/* host byte order */
	uint16_t ip_id;
	struct arp_entry arp[NET_ARP_SLOTS];
	unsigned int arp_next;
	/* what the running command listens for (0: nothing) */
	uint16_t sink_port, reply_port, reply_size, ping_id, ping_seq;
	uint64_t sink_packets, sink_bytes, replies;
	bool ping_got;
	struct net_stats st;
};

struct nic *nic_get(const char *cmd, const char *args);	/* up, or NULL */
uint8_t *nic_tx_buf(struct nic *n);	/* room for a frame; NULL: ring stuck */
void nic_tx_send(struct nic *n, uint32_t len, bool kick);
void nic_tx_kick(struct nic *n);
void net_poll(void);			/* every NIC up: take rx, reclaim tx */
bool net_active(void);			/* a NIC is up */
bool net_idle(bool can_halt);		/* false: halt for NET_TICK_NS */
#define NET_TICK_NS		1000000u	/* idle's halt while the net is quiet */
int cmd_net_up(const char *args);
int cmd_net_stats(const char *args);

/* ---- net-ip.c ---- */
#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define ETH_P_IPV6		0x86DD
#define IP_HLEN			20
#define UDP_HLEN		8
#define UDP_MAX			(ETH_MTU - IP_HLEN - UDP_HLEN)
#define PROTO_UDP		17

#define IP_FMT			"%u.%u.%u.%u"
#define IP_ARGS(a)		((a) >> 24), ((a) >> 16) & 255, ((a) >> 8) & 255, \
				(a) & 255

struct net_peer {
	uint8_t mac[ETH_ALEN];
	uint32_t ip;
	uint16_t port;
};

extern const uint8_t eth_bcast[ETH_ALEN];
bool arg_ip(const char *args, const char *key, uint32_t *ip, unsigned int *prefix);
bool net_usage_ok(const char *cmd, const char *args, const char *const *known,
		  const char *usage);
uint32_t net_csum_add(uint32_t sum, const uint8_t *p, uint32_t len);
uint16_t net_csum_fold(uint32_t sum);
void net_rx(struct nic *n, const uint8_t *f, uint32_t len);
uint8_t *eth_begin(struct nic *n, const uint8_t *dst, const uint8_t *src,
		   uint16_t type);
void eth_send(struct nic *n, uint8_t *l3, uint32_t l3len, bool kick);
int peer_resolve(struct nic *n, const char *cmd, const char *args,
		 struct net_peer *to);
uint8_t *udp_begin(struct nic *n, const struct net_peer *to,
		   const uint8_t *smac, uint16_t sport, uint16_t len);
void udp_finish(struct nic *n, uint8_t *data, uint16_t len, bool kick);
int cmd_udp_send(const char *args);
int cmd_udp_stream(const char *args);
int cmd_udp_sink(const char *args);
int cmd_icmp_ping(const char *args);

/* ---- net-forge.c ---- */
int cmd_forge_dhcp_offer(const char *args);
int cmd_forge_ra(const char *args);
int cmd_forge_mac(const char *args);

#endif
