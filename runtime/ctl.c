/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the control socket of a running process.
 *
 * Each process under numashadow listens on a unix socket,
 * $XDG_RUNTIME_DIR/numashadow/PID.sock or /tmp/numashadow-UID/PID.sock
 * (directory 0700, socket 0600), served by the runtime's service loop
 * (loop.c), one client at a time.  A peer
 * must have our effective uid or be root (SO_PEERCRED).  The protocol is
 * one request line, answered by lines ending with "ok" or "error: WHY":
 *
 *   stat                          pages by node per mapping, shared pages,
 *                                 migration counters
 *   migrate NODE all|START-END [sync]
 *                                 move the pages (hex addresses) to NODE
 *   migrate-nodes FROM TO [sync]  move the pages on each node of the mask
 *                                 FROM (hex, bit n: node n) to the
 *                                 matching node of TO
 *
 * See docs/migration.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include "internal.h"
#include "parse.h"
#include "sys.h"

static char sock_path[108];	/* ours, to unlink at exit */
static int listen_fd = -1;
static uint64_t listen_ino;	/* to notice the program reusing our fd */
static char dir_path[96];

static char out_buf[256 * 1024] NS_BIG;	/* a whole answer, sent after unlocking */
static size_t out_len;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = ns_vfmt(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (out_len + (size_t)n > sizeof(out_buf))
		return;	/* cut short rather than write under the lock */
	__builtin_memcpy(out_buf + out_len, line, (size_t)n);
	out_len += (size_t)n;
}

struct stat_ctx {
	uint64_t counts[64];
	uint64_t shared, mappers;
};

static int stat_vma(uint32_t vma, void *arg)
{
	struct stat_ctx *st = arg;
	struct ns_vma *v = vma_of(vma);
	uint64_t counts[64] = { 0 }, present = 0;
	char line[400];
	int len;

	for (uint64_t a = v->start; a < v->end; a += NS_PAGE_SIZE) {
		uint32_t t = pte_lookup(v->proc, a >> NS_PAGE_SHIFT);
		struct ns_page *p;
		if (!t)
			continue;
		p = page_of(pte_page(t));
		if ((p->flags & NS_PG_ZERO) || p->node < 0 || p->node >= 64)
			continue;
		counts[p->node]++;
		st->counts[p->node]++;
		present++;
		if (p->mapcount > 1) {
			st->shared++;
			st->mappers += p->mapcount;
		}
	}
	if (!present)
		return 0;
	len = ns_fmt(line, sizeof(line), "%#lx-%#lx %c%c%c%c %s",
		     (unsigned long)v->start, (unsigned long)v->end,
		     v->prot & 1 ? 'r' : '-', v->prot & 2 ? 'w' : '-',
		     v->prot & 4 ? 'x' : '-', v->flags & NS_VMA_SHARED ? 's' : 'p',
		     !v->obj ? "anon" : obj_of(v->obj)->kind == OBJ_SHM ? "shm" : "file");
	for (int n = 0; n < 64; n++)
		if (counts[n])
			len += ns_fmt(line + len, sizeof(line) - (size_t)len,
				      " node%d=%lu", n, (unsigned long)counts[n]);
	out("%s", line);
	return 0;
}

/* "pid P at A, ..." for the page's mappers, as many as fit in buf. */
static void mappers_line(uint32_t page, char *buf, int size)
{
	struct rmap_at at[16];
	int n = rmap_collect(page, false, at, 0, 16), len = 0;

	buf[0] = 0;
	for (int i = 0; i < n && i < 16 && len < size - 40; i++)
		len += ns_fmt(buf + len, (size_t)(size - len), "%spid %d at %#lx",
			      len ? ", " : "", (int)proc_of(at[i].proc)->pid,
			      (unsigned long)at[i].addr);
}

static void do_stat(void)
{
	struct stat_ctx st = { { 0 }, 0, 0 };
	struct ns_mig_counters c;

	ns_lock();
	page_sync(ns_rt.self);
	page_learn_nodes(ns_rt.self, 0, ~0ULL);
	out("pid %d", (int)ns_rt.pid);
	vma_walk(ns_rt.self, 0, ~0ULL, stat_vma, &st);
	c = proc_of(ns_rt.self)->mig;
	for (int n = 0; n < 64; n++)
		if (numa_node_online(n))
			out("node %d: %lu pages", n, (unsigned long)st.counts[n]);
	out("shared pages: %lu, with %lu mappings in the family",
	    (unsigned long)st.shared, (unsigned long)st.mappers);
	/* The first few shared pages and who maps them, by the rmap. */
	int listed = 0;
	for (uint32_t t = pte_first(ns_rt.self); t && listed < 16; t = pte_next(t)) {
		struct ns_page *p = page_of(pte_page(t));
		if (p->mapcount < 2 || (p->flags & NS_PG_ZERO))
			continue;
		char line[256];
		mappers_line(pte_page(t), line, sizeof(line));
		out("shared %#lx node %d: %s", (unsigned long)(pte_vpn(t) << NS_PAGE_SHIFT),
		    p->node, line);
		listed++;
	}
	ns_unlock();
	/* First touches the placement filled (0 without a policy): what a
	 * live view turns into pages placed a second. */
	struct ns_fault_stats fs;
	uffd_stats(&fs);
	out("placement: faults %lu pages %lu", (unsigned long)fs.faults,
	    (unsigned long)fs.pages);
	out("migrations: calls %lu moved %lu already %lu shared %lu not-present %lu nomem %lu not-movable %lu busy %lu other %lu passes %lu",
	    (unsigned long)c.calls, (unsigned long)c.moved,
	    (unsigned long)c.already, (unsigned long)c.shared,
	    (unsigned long)c.not_present, (unsigned long)c.nomem,
	    (unsigned long)c.fault, (unsigned long)c.busy,
	    (unsigned long)c.other, (unsigned long)c.passes);
	out("ok");
}

/* A node mask as a list, "0,2,3". */
static void nodes_fmt(char *buf, size_t size, uint64_t mask)
{
	int len = 0;

	buf[0] = 0;
	for (int n = 0; n < 64; n++)
		if (mask >> n & 1)
			len += ns_fmt(buf + len, size - (size_t)len, "%s%d",
				      len ? "," : "", n);
}

static void out_offline(int node)
{
	char list[200];

	nodes_fmt(list, sizeof(list), numa_online());
	out("error: node %d is not online (online nodes: %s)", node, list);
}

static void do_migrate(const char *s)
{
	int node;
	uint64_t lo = 0, hi = 0, n;
	unsigned flags = NS_MIG_SHARED;
	bool all = false;
	long r;

	if (parse_u64(&s, 4095, &n) < 0 || *s++ != ' ') {
		out("error: usage: migrate NODE all|START-END [sync], NODE a node number");
		return;
	}
	node = (int)n;
	if (!numa_node_online(node)) {
		out_offline(node);
		return;
	}
	if (!__builtin_strncmp(s, "all", 3)) {
		all = true;
		s += 3;
	} else {
		if (parse_hex64(&s, &lo) < 0 || *s++ != '-' || parse_hex64(&s, &hi) < 0) {
			out("error: range must be START-END in hex, each at most 16 digits");
			return;
		}
		if (hi <= lo) {
			out("error: empty range %#lx-%#lx", (unsigned long)lo,
			    (unsigned long)hi);
			return;
		}
		ns_lock();
		bool mapped = it_first(&vma_mm_ops, proc_of(ns_rt.self)->mm_root,
				       lo, hi - 1) != 0;
		ns_unlock();
		if (!mapped) {
			out("error: nothing is mapped in %#lx-%#lx",
			    (unsigned long)lo, (unsigned long)hi);
			return;
		}
	}
	if (!__builtin_strncmp(s, " sync", 5))
		flags |= NS_MIG_SYNC;
	r = all ? mig_move_all(node, flags) : mig_move_range(lo, hi, node, flags);
	if (r < 0)
		out("error: migration failed (%ld)", r);
	else
		out("moved %ld pages to node %d\nok", r, node);
}

/* migrate-nodes FROM TO [sync]: the masks' i-th nodes paired, as
 * migrate_pages(2) pairs them. */
static void do_migrate_nodes(const char *s)
{
	uint64_t from, to, off;
	unsigned flags = NS_MIG_SHARED;
	char fl[200], tl[200];
	long r;

	if (parse_hex64(&s, &from) < 0 || *s++ != ' ' || parse_hex64(&s, &to) < 0 ||
	    (*s && *s != ' ')) {
		out("error: usage: migrate-nodes FROM TO [sync], FROM and TO node masks in hex (bit n: node n), each at most 16 digits");
		return;
	}
	if (!from || !to) {
		out("error: empty node mask");
		return;
	}
	if (__builtin_popcountll(from) != __builtin_popcountll(to)) {
		out("error: FROM and TO must name as many nodes (%d and %d)",
		    __builtin_popcountll(from), __builtin_popcountll(to));
		return;
	}
	off = (from | to) & ~numa_online();
	if (off) {
		out_offline(__builtin_ctzll(off));
		return;
	}
	if (!__builtin_strncmp(s, " sync", 5))
		flags |= NS_MIG_SYNC;
	r = mig_move_nodes(from, to, flags);
	if (r < 0) {
		out("error: migration failed (%ld)", r);
		return;
	}
	nodes_fmt(fl, sizeof(fl), from);
	nodes_fmt(tl, sizeof(tl), to);
	out("moved %ld pages from nodes %s to nodes %s\nok", r, fl, tl);
}

/* May this peer talk to us?  Our effective uid or root (SO_PEERCRED);
 * tells it why not. */
bool ctl_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (sys_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 &&
	     cred.uid != (uid_t)sys_geteuid())) {
		sys_send(fd, "error: permission denied\n", 25, MSG_NOSIGNAL);
		return false;
	}
	return true;
}

/* The answer to one request line (its newline optional), in our buffer:
 * its length, and *out pointing at it. */
size_t ctl_answer(char *req, const char **ans)
{
	size_t n = __builtin_strlen(req);

	if (n && req[n - 1] == '\n')
		req[--n] = 0;
	out_len = 0;
	*ans = out_buf;
	if (!ns_rt.ready || sys_getpid() != ns_rt.pid)
		out("error: the process is exiting");
	else if (!__builtin_strcmp(req, "stat"))
		do_stat();
	else if (!__builtin_strncmp(req, "migrate ", 8))
		do_migrate(req + 8);
	else if (!__builtin_strncmp(req, "migrate-nodes ", 14))
		do_migrate_nodes(req + 14);
	else
		out("error: unknown request '%s' (stat, migrate, migrate-nodes)", req);
	return out_len;
}


/* The listening socket, while the descriptor is still ours (the program
 * may have closed it and reused the number); -1 otherwise. */
int ctl_fd(void)
{
	struct stat st;

	if (listen_fd < 0 || sys_fstat(listen_fd, &st) < 0 || st.st_ino != listen_ino)
		return -1;
	return listen_fd;
}

/* Where this user's sockets live; 0 or -errno. */
static int ctl_dir(void)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	long uid = sys_geteuid();
	struct stat st;

	if (x && *x)
		ns_fmt(dir_path, sizeof(dir_path), "%s/numashadow", x);
	else
		ns_fmt(dir_path, sizeof(dir_path), "/tmp/numashadow-%ld", uid);
	sys_mkdir(dir_path, 0700);
	if (sys_lstat(dir_path, &st) < 0)
		return -ENOENT;
	/* Someone else's or a link: not a place to listen. */
	if (!S_ISDIR(st.st_mode) || st.st_uid != (uid_t)uid || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

/* Opens this process's socket and starts its thread.  Returns 0 or -errno;
 * the program runs on either way. */
int ctl_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long fd;
	int r;

	if (listen_fd >= 0)
		sys_close(listen_fd);
	listen_fd = -1;
	if ((r = ctl_dir()) < 0)
		return r;
	ns_fmt(sock_path, sizeof(sock_path), "%s/%d.sock", dir_path, (int)ns_rt.pid);
	__builtin_memcpy(sa.sun_path, sock_path, sizeof(sock_path));
	sys_unlink(sock_path);	/* a dead namesake's */
	fd = sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return (int)fd;
	if ((r = (int)sys_bind(fd, &sa, sizeof(sa))) < 0 ||
	    (r = (int)sys_chmod(sock_path, 0600)) < 0 ||
	    (r = (int)sys_listen(fd, 8)) < 0) {
		sys_close((int)fd);
		return r;
	}
	fd = sys_fd_hide(fd);
	struct stat st;
	if (sys_fstat((int)fd, &st) < 0) {
		sys_close((int)fd);
		return -EBADF;
	}
	listen_ino = st.st_ino;
	listen_fd = (int)fd;
	r = loop_start();
	if (r < 0) {
		ctl_stop();
		return r;
	}
	loop_wake();	/* a running loop takes the new socket */
	return 0;
}

/* Removes the socket a dead member of the family left behind. */
void ctl_forget(pid_t pid)
{
	char path[sizeof(sock_path)];

	if (!dir_path[0])
		return;
	ns_fmt(path, sizeof(path), "%s/%d.sock", dir_path, (int)pid);
	sys_unlink(path);
}

/* Removes the socket (at exit, and before exec). */
void ctl_stop(void)
{
	struct stat st;

	if (listen_fd < 0)
		return;
	sys_unlink(sock_path);
	/* Only while the number is still our socket's; the shutdown ends an
	 * accept in flight, which holds the socket beyond the close. */
	if (sys_fstat(listen_fd, &st) == 0 && st.st_ino == listen_ino) {
		sys_shutdown(listen_fd, SHUT_RDWR);
		sys_close(listen_fd);
	}
	listen_fd = -1;
}
