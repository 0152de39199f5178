/* SPDX-License-Identifier: MIT */
/*
 * trace_site.c - the call sites of the event trace (trace.c).
 *
 * The mmap hook hands the return addresses it unwound for its placement
 * rules to trace_stack() before it takes the family lock; each address's
 * object (ELF file) is found there, once per object, with
 * dl_iterate_phdr() (ld.so's lock: never under ours) and its build id
 * read from its notes in memory.  trace_site() then, under the family
 * lock, names the site (a distinct stack) once per process and notes which
 * range it mapped, so that the monitor's FAULT records can say the site
 * (trace_site_at(), a read of a small table under a sequence count: no
 * lock, no allocation).  Nothing is symbolized here: `numashadow report`
 * does that from the objects' files.  Records go into the ring through
 * trace_put().
 *
 * Locking: tr_objs.lock (a futex word, a leaf) for adding an object;
 * tr_sites under the family lock; tr_ranges written under the family lock
 * and its wlock, read by the monitor under its sequence count.
 */
#include <link.h>
#include <linux/futex.h>
#include "internal.h"
#include "sys.h"

#define TR_OBJS		256		/* objects a process's sites run in */
#define TR_SITES	4096		/* distinct stacks named per process */
#define TR_RANGES	256		/* mappings whose site FAULT says */

/* The objects this process's sites ran in: entries below n never change,
 * so they are read without the lock; adding one takes it. */
static struct {
	uint32_t lock;		/* futex word: one adder at a time (a leaf) */
	uint32_t n;		/* entries published (release) */
	struct tr_obj {
		uint64_t lo, hi;	/* its PT_LOAD segments, loaded */
		uint64_t bias;		/* load address - ELF address */
	} v[TR_OBJS];		/* object id = index + 1 */
	char exe[NS_TRACE_PATH + 1];	/* the program's path (lock) */
} tr_objs NS_BIG;

/* The last stack trace_stack() was given, for trace_site(). */
static __thread struct {
	int n;
	uint64_t ip[NS_TRACE_DEPTH];
	uint32_t obj[NS_TRACE_DEPTH];	/* object ids, 0: none */
} tr_stack;

/* The sites named so far, by a hash of their stacks (open addressing;
 * family lock).  A site is a distinct stack of NS_TRACE_DEPTH frames. */
static struct {
	uint32_t n;		/* ids given: 1 to n */
	struct {
		uint64_t hash;	/* 0: a free slot */
		uint32_t id;
	} slot[2 * TR_SITES];
} tr_sites NS_BIG;

/* Ranges mapped from a known site, for FAULT: written under the family
 * lock (and wlock), read by the monitor with no lock: seq is odd while
 * an entry changes. */
static struct {
	uint32_t seq;		/* odd while a writer changes v[] */
	uint32_t wlock;		/* spin, under the family lock */
	uint32_t next;		/* the entry to reuse when none is free */
	struct {
		uint64_t start, end;
		uint32_t site;
	} v[TR_RANGES];
} tr_ranges NS_BIG;

/* ---- call sites ---- */

/* An object found by dl_iterate_phdr() for an address. */
struct tr_found {
	uint64_t ip;			/* the address looked for */
	uint64_t lo, hi, bias;		/* its segments, its load bias */
	const char *name;		/* ld.so's, "" for the program */
	uint8_t bid[NS_TRACE_BUILD_ID];
	int bidlen;
};

/* The GNU build id among the notes at [p, e), into f. */
static void tr_build_id(struct tr_found *f, const char *p, const char *e)
{
	while (p + sizeof(ElfW(Nhdr)) <= e) {
		const ElfW(Nhdr) *n = (const void *)p;
		const char *name = p + sizeof(*n);
		const char *desc = name + ((n->n_namesz + 3) & ~3u);

		if (desc + n->n_descsz > e)
			return;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !__builtin_memcmp(name, "GNU", 4)) {
			f->bidlen = n->n_descsz < NS_TRACE_BUILD_ID ? (int)n->n_descsz
								   : NS_TRACE_BUILD_ID;
			__builtin_memcpy(f->bid, desc, (size_t)f->bidlen);
			return;
		}
		p = desc + ((n->n_descsz + 3) & ~3u);
	}
}

static int tr_find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct tr_found *f = arg;
	uint64_t lo = ~0ull, hi = 0;
	bool in = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
		if (ph->p_type != PT_LOAD)
			continue;
		lo = s < lo ? s : lo;
		hi = e > hi ? e : hi;
		in |= f->ip >= s && f->ip < e;
	}
	if (!in)
		return 0;
	f->lo = lo;
	f->hi = hi;
	f->bias = info->dlpi_addr;
	f->name = info->dlpi_name ? info->dlpi_name : "";
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE && !f->bidlen)
			tr_build_id(f, (const char *)(info->dlpi_addr + ph->p_vaddr),
				    (const char *)(info->dlpi_addr + ph->p_vaddr + ph->p_memsz));
	}
	return 1;
}

/* Records object id: its bias, build id and path (tr_objs.lock held). */
static void tr_object_emit(uint32_t id, const struct tr_found *f)
{
	const char *path = f->name;
	uint64_t plen, total, chunk[2];

	if (!*path) {	/* the program: ld.so names it "" */
		long n = sys_readlink("/proc/self/exe", tr_objs.exe, NS_TRACE_PATH);
		tr_objs.exe[n > 0 ? n : 0] = '\0';
		path = tr_objs.exe;
	}
	plen = __builtin_strlen(path);
	if (plen > NS_TRACE_PATH)
		plen = NS_TRACE_PATH;
	total = (uint64_t)f->bidlen + plen;
	if (!trace_put(0, NS_TR_OBJECT, f->bias, plen, f->bidlen, id))
		return;
	for (uint64_t off = 0; off < total; off += 16) {
		char *c = (char *)chunk;
		for (uint64_t i = 0; i < 16; i++) {
			uint64_t k = off + i;
			c[i] = k < (uint64_t)f->bidlen ? (char)f->bid[k]
			       : k < total ? path[k - (uint64_t)f->bidlen] : 0;
		}
		trace_put(0, NS_TR_BYTES, chunk[0], chunk[1], (int)(off / 16), id);
	}
}

/* The id of the object holding ip, found and recorded the first time;
 * 0 when none holds it or the table is full. */
static uint32_t tr_object_of(uint64_t ip)
{
	uint32_t n = __atomic_load_n(&tr_objs.n, __ATOMIC_ACQUIRE), i;
	struct tr_found f = { .ip = ip };

	for (i = 0; i < n; i++)
		if (ip >= tr_objs.v[i].lo && ip < tr_objs.v[i].hi)
			return i + 1;
	/* ld.so's lock, then ours: never the other way round. */
	if (n == TR_OBJS || !dl_iterate_phdr(tr_find_cb, &f))
		return 0;
	ns_fork_resets_mark(NS_FR_TRACE);
	while (__atomic_exchange_n(&tr_objs.lock, 1, __ATOMIC_ACQUIRE))
		sys_futex(&tr_objs.lock, FUTEX_WAIT_PRIVATE, 1, NULL);
	n = tr_objs.n;
	for (i = 0; i < n && !(ip >= tr_objs.v[i].lo && ip < tr_objs.v[i].hi); i++)
		;
	if (i == n && n < TR_OBJS) {
		tr_objs.v[n].lo = f.lo;
		tr_objs.v[n].hi = f.hi;
		tr_objs.v[n].bias = f.bias;
		__atomic_store_n(&tr_objs.n, n + 1, __ATOMIC_RELEASE);
		tr_object_emit(n + 1, &f);
	}
	__atomic_store_n(&tr_objs.lock, 0, __ATOMIC_RELEASE);
	sys_futex(&tr_objs.lock, FUTEX_WAKE_PRIVATE, 1, NULL);
	return i < TR_OBJS ? i + 1 : 0;
}

/* The return addresses of an allocation's stack, innermost first, as the
 * mmap hook unwound them (before the family lock: this may take ld.so's):
 * kept for this thread's next trace_site(). */
void trace_stack(void *const *ip, int n)
{
	tr_stack.n = 0;
	if (!trace_on() || n <= 0)
		return;
	for (int i = 0; i < n && i < NS_TRACE_DEPTH; i++) {
		tr_stack.ip[i] = (uint64_t)ip[i];
		tr_stack.obj[i] = tr_object_of((uint64_t)ip[i]);
	}
	tr_stack.n = n < NS_TRACE_DEPTH ? n : NS_TRACE_DEPTH;
}

/* The id of this thread's last stack, named (SITE and FRAME records)
 * the first time; 0 when there is none or no id is left.  Family lock. */
static uint32_t tr_site_id(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t i;

	if (!tr_stack.n)
		return 0;
	for (int k = 0; k < tr_stack.n; k++)
		h = (h ^ tr_stack.ip[k]) * 0x100000001b3ull;
	h |= 1;		/* never 0, a free slot */
	for (i = (uint32_t)(h >> 20) % (2 * TR_SITES); tr_sites.slot[i].hash;
	     i = (i + 1) % (2 * TR_SITES))
		if (tr_sites.slot[i].hash == h)
			return tr_sites.slot[i].id;
	if (tr_sites.n == TR_SITES)
		return 0;
	tr_sites.slot[i].hash = h;
	tr_sites.slot[i].id = ++tr_sites.n;
	trace_put(0, NS_TR_SITE, 0, 0, tr_stack.n, tr_sites.n);
	for (int k = 0; k < tr_stack.n; k++) {
		uint32_t o = tr_stack.obj[k];
		uint64_t off = o ? tr_stack.ip[k] - tr_objs.v[o - 1].bias : 0;
		/* tid holds the object id; -1 for none (0 would be ours). */
		trace_put(o ? (int)o : -1, NS_TR_FRAME, tr_stack.ip[k], off, k, tr_sites.n);
	}
	return tr_sites.n;
}

/* [start, end) was just mapped, placed by a policy, from the stack
 * trace_stack() was last given: its site is named the first time in this
 * process, and FAULT records in the range will say it.  Family lock held
 * (one writer at a time; wlock is for the fork child's sake). */
void trace_site(uint64_t start, uint64_t end)
{
	uint32_t free = TR_RANGES, site;

	if (!trace_on())
		return;
	site = tr_site_id();
	tr_stack.n = 0;
	ns_fork_resets_mark(NS_FR_TRACE);
	while (__atomic_exchange_n(&tr_ranges.wlock, 1, __ATOMIC_ACQUIRE))
		;	/* writers hold the family lock: never contended */
	__atomic_add_fetch(&tr_ranges.seq, 1, __ATOMIC_ACQ_REL);
	for (uint32_t i = 0; i < TR_RANGES; i++) {
		if (tr_ranges.v[i].site && tr_ranges.v[i].start < end &&
		    tr_ranges.v[i].end > start)	/* replaced */
			__atomic_store_n(&tr_ranges.v[i].site, 0, __ATOMIC_RELAXED);
		if (!tr_ranges.v[i].site && free == TR_RANGES)
			free = i;
	}
	if (site) {
		if (free == TR_RANGES)
			free = tr_ranges.next++ % TR_RANGES;
		__atomic_store_n(&tr_ranges.v[free].start, start, __ATOMIC_RELAXED);
		__atomic_store_n(&tr_ranges.v[free].end, end, __ATOMIC_RELAXED);
		__atomic_store_n(&tr_ranges.v[free].site, site, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&tr_ranges.seq, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&tr_ranges.wlock, 0, __ATOMIC_RELEASE);
}

/* The site of the mapping holding addr, for a FAULT record; 0 unknown.
 * The monitor's: no lock, no allocation. */
uint32_t trace_site_at(uint64_t addr)
{
	for (int tries = 0; trace_on() && tries < 4; tries++) {
		uint32_t s = __atomic_load_n(&tr_ranges.seq, __ATOMIC_ACQUIRE), site = 0;

		if (s & 1)
			continue;
		/* Acquire loads keep the second look at seq after them (a
		 * fence would do, but TSan builds do not take fences). */
		for (uint32_t i = 0; i < TR_RANGES && !site; i++)
			if (__atomic_load_n(&tr_ranges.v[i].site, __ATOMIC_ACQUIRE) &&
			    addr >= __atomic_load_n(&tr_ranges.v[i].start, __ATOMIC_ACQUIRE) &&
			    addr < __atomic_load_n(&tr_ranges.v[i].end, __ATOMIC_ACQUIRE))
				site = __atomic_load_n(&tr_ranges.v[i].site, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&tr_ranges.seq, __ATOMIC_RELAXED) == s)
			return site;
	}
	return 0;
}

/* In the child of fork: a thread the child lacks may have held them. */
void trace_sites_after_fork(void)
{
	tr_objs.lock = 0;
	tr_ranges.wlock = 0;
	tr_ranges.seq &= ~1u;
}
