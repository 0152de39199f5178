/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the runtime's modules share: the model (model.h,
 * included here) and the declarations of every engine and platform file.
 *
 * Glossary (after the kernel's mm, which this mirrors):
 *   family      the first preloaded process and its forked descendants; they
 *               share one arena (a memfd mapped MAP_SHARED before any fork).
 *   proc        one process of the family: its VMA tree and its PTEs.
 *   vma         one mapping [start, end) of a proc, with protection, flags,
 *               backing object and pgoff (page offset of start in the object).
 *   object      an address_space (file or shared-memory object, keyed by
 *               dev+inode, VMAs in an interval tree by page offset: i_mmap)
 *               or an anon_vma (anonymous pages; VMAs reach it through AVCs).
 *   avc         anon_vma_chain: one (vma, anon_vma) pair, on the vma's
 *               same_vma list and in the anon_vma's interval tree.
 *   page        descriptor of one present 4 KiB page: object + index, node,
 *               mapcount, PFN when readable.
 *   pte         the shadow page-table entry: (proc, virtual page) -> page.
 *
 * Records live in typed pools inside the arena and refer to each other by
 * uint32_t index, 0 meaning none, so every process sees the same values at
 * whatever address it maps the arena.
 *
 * Locking: one family lock (arena.c) guards every record in the arena.  The
 * runtime takes it around "syscall + shadow update" so the kernel and the
 * shadow agree whenever it is free.  Every lock, its order and its rules:
 * the lock tree at the top of arena.c.
 * A thread already inside the runtime (the per-thread ns_in_runtime flag)
 * never takes the lock again: re-entrant and signal-handler calls pass
 * straight to the kernel and mark the shadow for reconciliation.
 */
#ifndef NS_INTERNAL_H
#define NS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "numashadow_trace.h"
#include "model.h"

/* ---- numa.c: topology and rights ---- */

int numa_parse_ranges(const char *s, void (*set)(unsigned n, void *arg),
		      void *arg);
uint64_t numa_parse_list(const char *s);
uint64_t numa_online(void);
bool numa_node_online(int node);
/* The node of each CPU: read it (once per image), then ask. */
void numa_cpu_nodes_read(void);
int numa_cpu_node(int64_t cpu);
bool numa_can_move_all(void);

/* ---- migrate.c: the migration engine ---- */

/* Outcomes of page moves, by reason (one set per proc, in the arena). */
struct ns_mig_counters {
	uint64_t calls;		/* migrations asked for */
	uint64_t moved;		/* pages now on their target node */
	uint64_t already;	/* pages that were there already */
	uint64_t shared;	/* -EACCES: mapped by others, no CAP_SYS_NICE */
	uint64_t not_present;	/* -ENOENT: gone before it could move */
	uint64_t nomem;		/* -ENOMEM: target node full */
	uint64_t fault;		/* -EFAULT: not a movable page (zero page) */
	uint64_t busy;		/* -EBUSY/-EAGAIN after every pass, or locked */
	uint64_t other;		/* any other error */
	uint64_t passes;	/* move_pages passes made */
};

#define NS_MIG_SYNC	0x1	/* wait for pages another migration holds */
#define NS_MIG_SHARED	0x2	/* move pages others map (needs CAP_SYS_NICE) */

/* Moves the present pages of this process in [start, end) to node; called
 * WITHOUT the family lock.  Returns pages moved or -errno. */
long mig_move_range(uint64_t start, uint64_t end, int node, unsigned flags);
/* The same, taking only pages the shadow says are on node from (-1: any). */
long mig_move_range_from(uint64_t start, uint64_t end, int from, int node,
			 unsigned flags);
void mig_after_fork(void);

/* ---- migrate_all.c: migrations of the whole program ---- */

/* Moves every page the program maps (not the runtime's own). */
long mig_move_all(int node, unsigned flags);
/* Moves the pages on each node of from to the matching node of to (the
 * i-th of each mask, as migrate_pages(2)); -EINVAL for empty masks, masks
 * of different weight or offline nodes. */
long mig_move_nodes(uint64_t from, uint64_t to, unsigned flags);

/* ---- proc.c: the processes of the family ---- */

#define NS_PROC_LIVE	1
#define NS_PROC_EXEC	3	/* inside execve: shadow dropped, hooks pass */
#define NS_PROC_EXITING	4	/* past our exit code, its mm maybe not yet
				 * gone: its mappings stand until it is
				 * found dead (proc_alive) and released */

struct ns_proc {
	uint32_t next;		/* family list */
	uint32_t state;		/* NS_PROC_* */
	int32_t pid;
	uint32_t parent;	/* proc it was forked from, 0 for the root */
	uint64_t starttime;	/* started by then (stat field 22's unit), against
				 * pid reuse */
	uint32_t mm_root;	/* VMA tree */
	uint32_t nr_vma;
	uint32_t pte_head;	/* list of its page tables */
	uint32_t nr_ptab;	/* how many */
	uint32_t dirty;		/* untracked changes: reconcile before use (set
				 * by any thread with no lock, cleared under
				 * the family lock) */
	uint32_t unlearned;	/* dormant: its shadow is empty, kept by nobody */
	uint32_t forked;	/* it forked, or was forked: without PFNs its
				 * anonymous pages may be copied at a write,
				 * unseen (learn.c, copy_unseen()) */
	uint64_t nr_pte;
	uint64_t start_brk;	/* heap start, as the kernel's mm->start_brk */
	uint64_t brk;		/* current break */
	struct ns_mig_counters mig;	/* this process's migrations: written
					 * under its engine lock, read under
					 * the family lock */
};

#define NS_PROC_MAX 4096	/* process records in an arena of scale 1 */

static inline struct ns_proc *proc_of(uint32_t i)
{ return pool_rec(POOL_PROC, i); }

uint32_t proc_new(pid_t pid, uint32_t parent);
uint32_t proc_find(pid_t pid);
void proc_release(uint32_t proc);
void proc_release_pid(pid_t pid);
void proc_renew(uint32_t proc);
int64_t stat_field(const char *path, int field, char *state);
bool proc_alive(uint32_t proc);

/* ---- pagemap.c: the kernel's page tables, ours and our relatives' ---- */

int pm_open(uint32_t proc, bool *keep);
void pm_close(int fd, bool keep);
/* proc's pagemap entry of addr: 0 or -errno (-ESRCH: its mm is gone). */
int pm_read(uint32_t proc, uint64_t addr, uint64_t *ent);

/* ---- maps.c: /proc/PID/maps ---- */

#define NS_KVMA_SPECIAL 0x1	/* [vdso], [vvar], [vsyscall]: not ours */
#define NS_KVMA_STACK	0x2	/* [stack] */
#define NS_KVMA_HEAP	0x4	/* [heap] */
#define NS_KVMA_SHMANON 0x8	/* shared anonymous (/dev/zero, SYSV) */

struct ns_kvma {
	uint64_t start, end;
	uint64_t off;		/* file offset in bytes */
	uint64_t dev, ino;	/* 0 for anonymous */
	uint32_t prot;		/* PROT_* */
	uint32_t flags;		/* NS_VMA_SHARED | NS_KVMA_* << 8 */
};

/* Reads /proc/PID/maps (pid 0: self) into out, using buf for the text;
 * returns the count or -errno. */
int maps_read(pid_t pid, struct ns_kvma *out, int max, char *buf, size_t n);
/* Reads hexadecimal digits (an optional 0x first) at *s, advancing it. */
uint64_t ns_hex(const char **s);

/* ---- verify.c: the kernel as oracle ---- */

/* Compares (fix = false) or reconciles (fix = true) a proc's VMAs with the
 * kernel's; returns the number of differences. */
int verify_vmas(uint32_t proc, bool fix);
int verify_vmas_quiet(uint32_t proc);
/* Learns present pages from pagemap and checks every page claim of the
 * family; returns the number of differences.  Between its looks it calls
 * catch_up (the caller's: the hooks' layer takes in what the monitor has
 * not yet passed on). */
int verify_pages(bool all, void (*catch_up)(void));


/* ---- learn.c: pages learned from pagemap ---- */

/* Learns this proc's present pages (first touch, COW breaks). */
int page_sync(uint32_t proc);
void page_sync_range(uint32_t proc, uint64_t lo, uint64_t hi);
/* The same, letting pages the kernel no longer has go from the shadow. */
void page_drop_vanished(uint32_t proc, uint64_t lo, uint64_t hi);
/* Learns the page at addr in proc (self); its descriptor, 0, or -errno. */
int page_sync_addr(uint32_t proc, uint64_t addr);
/* Asks the kernel for the nodes the shadow does not know in [lo, hi). */
void page_learn_nodes(uint32_t proc, uint64_t lo, uint64_t hi);
/* Counts this proc's present pages by node into counts[64]; lock held. */
void page_count_by_node(uint32_t proc, uint64_t counts[64]);

/* ---- sync.c: one page learned ---- */

/* Does proc map the page we map at addr, whose pagemap entry is mine (its
 * frame as root, else both present, anonymous and shared)?  1, 0, or
 * -errno (its mm is gone: -ESRCH). */
int pm_maps_ours(uint32_t proc, uint64_t addr, uint64_t mine);
uint64_t ns_zero_pfn(void);	/* sync.c */

/* ---- own.c: the runtime's own memory ---- */

/* Leaves a runtime buffer out of page tracking: the runtime writes it while
 * it scans, so its pages would race the scan. */
void ns_exclude(const void *start, size_t len);
/* The runtime's own writable memory: never write-protected by us. */
void ns_own_add(uint64_t start, uint64_t end);
void ns_own_del(uint64_t start, uint64_t end);
bool ns_own_overlaps(uint64_t start, uint64_t end);

/* ---- passed.c: calls that went straight to the kernel, for the reconcile ---- */

void passed_add(uint64_t start, uint64_t len);
int remap_begin(uint64_t old, uint64_t oldlen, uint64_t newlen, int flags, uint64_t new);
void remap_end(int slot, long r);
bool remap_pending(uint64_t s, uint64_t e);	/* an mremap is changing [s, e) */
bool remap_hint(uint64_t s, uint64_t e, uint64_t *pgoff);
void remap_replay(void);
void passed_drain(void);
void passed_after_fork(void);

/* ---- corrupt.c: test-only damage to the shadow (NUMASHADOW_TEST_CORRUPT) ---- */

/* Weak and hidden: defined in the test build of the library only; in the
 * shipped one they resolve to NULL at link time, so check corrupt_kind
 * before calling any of them. */
#define NS_TEST_ONLY __attribute__((weak, visibility("hidden")))
/* The kind v names, as a string of corrupt.c's own, or NULL for none. */
const char *corrupt_kind(const char *v) NS_TEST_ONLY;
/* Spoil one entry of that kind, if it is one spoiled at start-up (all but
 * "mapper"), or one spoiled in a fork child ("mapper").  Lock held. */
void corrupt_at_start(const char *kind) NS_TEST_ONLY;
void corrupt_in_child(const char *kind) NS_TEST_ONLY;

/* ---- policy.c: first-touch placement policies and rules ---- */

enum ns_pol_mode { POL_NONE, POL_LOCAL, POL_BIND, POL_PREFERRED, POL_INTERLEAVE,
		   POL_WEIGHTED };

struct ns_policy {
	uint8_t mode;		/* enum ns_pol_mode */
	uint8_t nnodes;		/* entries in nodes[] */
	uint16_t total;		/* sum of weight[] */
	uint8_t nodes[64];	/* in order */
	uint8_t weight[64];	/* pages per turn (1 but for weighted) */
};

enum { RULE_SIZE_GE = 1, RULE_SIZE_LT, RULE_SITE };
#define NS_MAX_RULES 16

struct ns_rule {
	int kind;		/* RULE_* */
	uint64_t size;		/* bytes, for the size rules */
	char object[64];	/* site rules: file name (or its tail) */
	char function[64];	/* ... and function */
	struct ns_policy policy;
};

struct ns_policies {
	struct ns_policy def;	/* NUMASHADOW_POLICY */
	int nrules;
	struct ns_rule rule[NS_MAX_RULES];	/* NUMASHADOW_RULES, in order */
};

/* One frame of an allocation's call stack, resolved. */
struct ns_site {
	const char *object;	/* file of the code */
	const char *function;	/* nearest symbol, or NULL */
};

extern struct ns_policies ns_pol;
int policy_parse_default(const char *s);
int policy_parse_rules(const char *s);
bool policy_any(void);
bool policy_has_site_rules(void);
bool policy_uses(int mode);
int policy_pick(uint64_t len, const struct ns_site *sites, int nsites);
const struct ns_policy *policy_get(int idx);
int policy_node(const struct ns_policy *p, uint64_t vpn, int thread_node);

/* ---- uffd.c: the userfaultfd monitor (with fill.c and wp.c) ---- */

int uffd_start(void);
/* Starts the monitor with its descriptors open now; 0 or -errno. */
int uffd_start_open(void);
void uffd_stop(void);
void uffd_quiesce(void);
bool uffd_has_wp(void);
void uffd_after_fork(void);
bool uffd_active(void);
/* Is the monitor thread up (its descriptors may still wait)? */
bool uffd_running(void);
/* A new anonymous region to place by policy idx; 0 or -errno. */
int uffd_region_add(uint64_t start, uint64_t end, int idx);
void uffd_region_note(uint64_t start, uint64_t end, int idx);
bool uffd_wp_any(void);
int uffd_region_register(uint64_t start, uint64_t end, int idx);
void uffd_region_del(uint64_t start, uint64_t end);
void uffd_region_leave(uint64_t start, uint64_t end);
/* Pops a range whose pages the kernel dropped (EVENT_REMOVE); 1 or 0. */
int uffd_vanished(uint64_t *start, uint64_t *end);
/* Pages the monitor filled: pop (start, end, thread) (1 or 0). */
int uffd_touched(uint64_t *start, uint64_t *end, int *tid);
/* Pages next-touch moved: pop (page, node) (1 or 0). */
int uffd_moved(uint64_t *addr, int *node);
/* Writes sampled for the balancer: pop (page, writer's node) (1 or 0). */
int uffd_sampled(uint64_t *page, int *node);
/* Fault statistics, for reports. */
struct ns_fault_stats {
	uint64_t faults;	/* MISSING faults served */
	uint64_t pages;		/* pages filled */
	uint64_t wakes;		/* faults already served by someone else */
	uint64_t sleeps;	/* times the monitor blocked */
	uint64_t errors;	/* fills that failed */
	uint64_t fallbacks;	/* fills the chosen node had no room for */
	uint64_t waited;	/* writes that waited for a page in flight */
	uint64_t next_touch;	/* pages next-touch moved to their writer */
	uint64_t cow;		/* first writes after fork seen (COW breaks) */
	uint64_t by_node[64];	/* pages filled per node */
};
void uffd_stats(struct ns_fault_stats *out);

/* ---- fill.c: first-touch filling ---- */

/* NUMASHADOW_FAULT_AROUND: pages filled per fault; 0 or -EINVAL. */
int uffd_set_window(const char *v);
/* The calling thread's own task policy (set_mempolicy), to honour. */
void uffd_thread_policy(int tid, int mode, uint64_t mask);

/* ---- wp.c: write protection ---- */

/* Write protection of pages in flight (the engine's migration entries). */
int uffd_hold(uint64_t start, uint64_t end, bool placed);
void uffd_release(uint64_t start, uint64_t end, bool placed);
/* Next-touch: arm a range; the COW watch after fork. */
int uffd_next_touch(uint64_t start, uint64_t end, bool placed);
int uffd_cow_watch(uint64_t start, uint64_t end, bool placed);
/* Write sampling for the balancer. */
int uffd_sample_arm(uint64_t vstart, uint64_t vend, uint64_t start, uint64_t end,
		    bool placed);
void uffd_sample_disarm(void);

/* ---- balance.c: hot-page balancing ---- */

struct ns_balance_stats {
	uint64_t samples;	/* sampled writes seen */
	uint64_t moves;		/* pages moved to their writers' node */
	uint64_t pingpong;	/* moves declined: the page moved too recently */
	uint64_t budget;	/* moves declined: over the MiB/s budget */
};

/* Starts the balancer thread, moving at most mibps MiB/s; 0 or -errno. */
int balance_start(unsigned mibps);
void balance_stats(struct ns_balance_stats *out);
bool balance_active(void);

/* ---- ctl.c: the control socket ---- */

int ctl_start(void);
void ctl_stop(void);
void ctl_forget(pid_t pid);
int ctl_fd(void);
bool ctl_peer_ok(int fd);
size_t ctl_answer(char *req, const char **out);

/* ---- loop.c: the service thread (control socket, timers, trace) ---- */

int loop_start(void);
void loop_wake(void);
int loop_timer(uint64_t delay_ns, uint64_t period_ns, void (*fn)(void));
void loop_after_fork(void);

/* ---- trace.c: event records ---- */

int trace_open(const char *path);
bool trace_on(void);
/* report.c: the exit report, and what it tallies as the process runs. */
void report_text(const char *when);
void report_json(const char *when);
void report_touch(int tid, uint64_t pages);
void report_pages_by_node(uint64_t counts[64]);
int report_fmt_nodes(char *buf, size_t n, const uint64_t counts[64]);
/* share.c: the trace's SHARED records for this process.  Lock held. */
void share_trace(void);
int trace_fd(void);
void trace_emit(int type, uint64_t addr, uint64_t len, int node, uint32_t aux);
void trace_vfork_exec(int child);
void trace_emit_for(int tid, int type, uint64_t addr, uint64_t len, int node,
		    uint32_t aux);
void trace_flush_sync(void);
void trace_finish(void);
void trace_after_fork(int parent);
/* One record (tid 0: the caller); false, counted lost, when the ring is
 * full.  For trace_site.c: the caller checked trace_on(). */
bool trace_put(int tid, int type, uint64_t addr, uint64_t len, int node,
	       uint32_t aux);

/* ---- trace_site.c: the trace's call sites ---- */

/* Call sites: the stack the mmap hook unwound (before the family lock),
 * then, under it, the range mapped from it; the site of an address, for
 * the monitor's FAULT records (0: unknown). */
void trace_stack(void *const *ip, int n);
void trace_site(uint64_t start, uint64_t end);
uint32_t trace_site_at(uint64_t addr);
void trace_sites_after_fork(void);

/* One migration's start, for its MIGRATE_END and MIGRATE_FAIL records. */
struct trace_mig {
	uint64_t t0;			/* CLOCK_MONOTONIC, ns */
	struct ns_mig_counters c0;	/* the process's counters before it */
};
void trace_migrate_begin(struct trace_mig *m, const struct ns_mig_counters *c);
/* Records the MIGRATE (moved pages moved; err: move_pages' -errno, 0) and
 * its outcome; engine lock held. */
void trace_migrate(const struct trace_mig *m, const struct ns_mig_counters *c,
		   uint64_t addr, uint64_t len, int node, long moved, long err);

/* ---- runtime.c: the per-process runtime (settings: options.c) ---- */

struct ns_runtime {
	int ready;		/* the hooks may use the model */
	int dormant;		/* no setting asked for the shadow: the hooks
				 * pass, nothing is learned until an API call
				 * wakes it (runtime.c, wake()) */
	int placing;		/* dormant under a placement policy: the kernel
				 * places new regions (place_dormant()) */
	int place_later;	/* the kernel may place for the monitor until
				 * it is needed (runtime.c, policy_waits()):
				 * 0 no, 1 yes, 2 yes, and the program's own
				 * mmap of a large region starts it (malloc
				 * is libc's) */
	int disabled;		/* fail open: pass everything through */
	pid_t pid;		/* pid this state belongs to */
	uint32_t self;		/* our proc index */
	int verify;		/* NUMASHADOW_VERIFY level */
	int is_root;		/* PFNs and kpagecount are readable */
	volatile int in_fork;	/* a thread is inside our fork wrapper (set
				 * under the family lock; waiters for it read
				 * it with none: ns_lock_unless' bail) */
	int forked_unseen;	/* set by the atfork child handler */
	uint32_t dormant_self;	/* a dormant fork child's record, made by
				 * its parent (fork.c); 0: self.  Here, not
				 * in fork.c, since the child writes this
				 * page anyway: one copy-on-write fault */
	volatile int dirty;	/* untracked changes in this address space */
	int escapes;		/* untracked changes under way (dlopen) */
	int always_reconcile;	/* libc's entry points could not be redirected */
	int threads;		/* the runtime's own threads now running */
	uint64_t verify_failures;
};

extern struct ns_runtime ns_rt;
extern __thread int ns_in_runtime;

/* log.c */
void ns_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ns_log_set_fd(int fd);
void ns_log_write(const char *buf, int n);
int ns_thread_start(void *(*fn)(void *));
void ns_thread_alone(void);
int ns_program_threads(void);
void ns_threads_after_fork(void);
int ns_vfmt(char *buf, size_t n, const char *fmt, __builtin_va_list ap);
int ns_fmt(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ns_verify_fail(void);
/* runtime.c, for api.c: enter and leave as an API call, verify; place.c:
 * arm next-touch over [lo, hi). */
bool ns_api_enter(void);
void ns_api_leave(void);
/* A dormant process under a policy, at a program's own call: wakes it and
 * starts the monitor (a thread).  False if it stays dormant. */
bool ns_wake(void);
int ns_verify_now(bool full);
long ns_next_touch(uint64_t lo, uint64_t hi);
void ns_catch_up(void);
/* From a thread that must not take the family lock (the monitor). */
void ns_mark_dirty_async(void);

#endif
