/* SPDX-License-Identifier: MIT */
/*
 * ctl_client.c - `numashadow migrate` and `numashadow stat`: requests to
 * a running program's control socket (runtime/ctl.c), and the stat
 * answer read back as JSON, one line per interval, or one line per
 * process (--all).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "parse.h"

#define SUN_PATH_SIZE	sizeof(((struct sockaddr_un *)0)->sun_path)

/* ---- migrate, stat: requests to a running program's control socket ---- */

/*
 * What the commands trust (docs/security.md).  The socket lives where the
 * runtime puts it (runtime/ctl.c): $XDG_RUNTIME_DIR/numashadow/PID.sock,
 * else /tmp/numashadow-EUID/PID.sock.  /tmp is anyone's, so another user
 * may have made that directory first and listen in it.  Before connecting
 * we check the directory: a directory (not a symlink: lstat), owned by our
 * effective uid, not writable by group or others; we then hold it open
 * and connect relative to it, so it cannot be swapped after the check.
 * After connecting, the peer (SO_PEERCRED: whoever called listen()) must
 * have our effective uid.  Root is not accepted as a peer: a program of
 * ours never listens as root, and a root-owned socket in our directory
 * would be someone else's.
 */

/* The socket of pid, as the runtime names it: dir (for messages and
 * checks) and name inside it.  Returns 0, or 1 after one line: a path too
 * long for a socket address, which the runtime could not have bound. */
static int ctl_path(const char *cmd, long pid, char *dir, size_t dirsize,
		    char *name, size_t namesize)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	size_t len;
	int n;

	if (xdg && *xdg)
		n = snprintf(dir, dirsize, "%s/numashadow", xdg);
	else
		n = snprintf(dir, dirsize, "/tmp/numashadow-%ld", (long)geteuid());
	len = (size_t)n + 1 + (size_t)snprintf(name, namesize, "%ld.sock", pid);
	/* dir/name and its NUL must fit in sun_path: never cut it short. */
	if (len >= SUN_PATH_SIZE || (size_t)n >= dirsize) {
		fprintf(stderr, "numashadow: %s: XDG_RUNTIME_DIR is too long: the "
			"socket path would be %zu bytes, a socket address holds %zu\n",
			cmd, len, SUN_PATH_SIZE - 1);
		return 1;
	}
	return 0;
}

/* Opens dir, the directory of our sockets, after checking that only we
 * can change what is in it.  Returns the descriptor; -ENOENT when there
 * is no such directory (no socket either); -EPERM after one line saying
 * why it is not trusted, or another -errno after one line. */
static int ctl_dir_open(const char *cmd, const char *dir)
{
	uid_t euid = geteuid();
	struct stat st, fst;
	const char *why = NULL;
	int fd;

	if (lstat(dir, &st)) {
		int err = errno;
		if (err == ENOENT)
			return -ENOENT;
		fprintf(stderr, "numashadow: %s: %s: %s\n", cmd, dir, strerror(err));
		return -err;
	}
	if (S_ISLNK(st.st_mode))
		why = "is a symbolic link";
	else if (!S_ISDIR(st.st_mode))
		why = "is not a directory";
	if (why) {
		fprintf(stderr, "numashadow: %s: %s %s; refusing to look for a "
			"control socket there\n", cmd, dir, why);
		return -EPERM;
	}
	if (st.st_uid != euid) {
		fprintf(stderr, "numashadow: %s: %s is owned by uid %ld, not by you "
			"(uid %ld); refusing to look for a control socket there\n",
			cmd, dir, (long)st.st_uid, (long)euid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fprintf(stderr, "numashadow: %s: %s is writable by %s (mode %04o); "
			"refusing to look for a control socket there\n", cmd, dir,
			st.st_mode & S_IWOTH ? "others" : "its group",
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	/* O_PATH: no read permission needed; O_NOFOLLOW: a symlink put there
	 * since the lstat is not followed.  The same inode as checked. */
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino) {
		fprintf(stderr, "numashadow: %s: %s changed while being checked; "
			"refusing to look for a control socket there\n", cmd, dir);
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	return fd;
}

/* A socket connected to name in the current directory, the checked
 * socket directory dir (for messages), served by our effective uid and,
 * when pid is not 0, by pid itself.  Returns the descriptor; -ENOENT when
 * nobody listens there (no socket, or one a dead process left); -1 after
 * one line saying why not. */
static int ctl_connect_name(const char *cmd, const char *dir, const char *name,
			    long pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "numashadow: %s: socket: %s\n", cmd, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			return -ENOENT;
		fprintf(stderr, "numashadow: %s: %s/%s: %s\n", cmd, dir, name,
			strerror(err));
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		fprintf(stderr, "numashadow: %s: %s/%s: SO_PEERCRED: %s\n", cmd, dir,
			name, strerror(errno));
		close(fd);
		return -1;
	}
	if (cred.uid != geteuid()) {
		fprintf(stderr, "numashadow: %s: %s/%s is served by uid %ld (pid %ld), "
			"not by you (uid %ld); refusing to talk to it\n", cmd, dir, name,
			(long)cred.uid, (long)cred.pid, (long)geteuid());
		close(fd);
		return -1;
	}
	/* --all names the process by the file name: it must be the one
	 * that listens, or the line would describe another process. */
	if (pid && cred.pid != (pid_t)pid) {
		fprintf(stderr, "numashadow: %s: %s/%s is served by pid %ld, not "
			"by pid %ld; skipped\n", cmd, dir, name, (long)cred.pid, pid);
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket connected to pid's control socket.  Returns the descriptor,
 * or -1 after one line saying why not; with quiet_gone, -ENOENT and no
 * line when there is no socket. */
static int ctl_connect_q(const char *cmd, long pid, int quiet_gone)
{
	char dir[SUN_PATH_SIZE], name[32];
	int dfd, fd;

	if (ctl_path(cmd, pid, dir, sizeof(dir), name, sizeof(name)))
		return -1;
	dfd = ctl_dir_open(cmd, dir);
	if (dfd == -ENOENT)
		goto no_socket;
	if (dfd < 0)
		return -1;
	/* Connect by a name relative to the directory we checked: we are a
	 * short-lived command, nothing else depends on our working directory. */
	if (fchdir(dfd)) {
		fprintf(stderr, "numashadow: %s: %s: %s\n", cmd, dir, strerror(errno));
		close(dfd);
		return -1;
	}
	close(dfd);
	fd = ctl_connect_name(cmd, dir, name, 0);
	if (fd == -ENOENT)
		goto no_socket;
	return fd;

no_socket:
	if (quiet_gone)
		return -ENOENT;
	fprintf(stderr, "numashadow: pid %ld has no control socket (start it "
		"with 'numashadow run --ctl')\n", pid);
	return -1;
}

static int ctl_connect(const char *cmd, long pid)
{
	return ctl_connect_q(cmd, pid, 0);
}

/* Sends one request to pid's control socket and copies the answer to
 * stdout; returns 0, or 1 after saying why (no process, no control
 * socket, one we do not trust, or the runtime's "error: ..."). */
static int ctl_request(const char *cmd, long pid, const char *req)
{
	char buf[4096], last[512] = "";
	size_t lastlen = 0;
	ssize_t n;
	int fd, ok = 0;

	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		fprintf(stderr, "numashadow: %s: no process %ld\n", cmd, pid);
		return 1;
	}
	fd = ctl_connect(cmd, pid);
	if (fd < 0)
		return 1;
	/* One line, one send; a peer gone already is an error, not SIGPIPE. */
	n = snprintf(buf, sizeof(buf), "%s\n", req);
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(errno ? errno : EIO));
		close(fd);
		return 1;
	}
	/* Pass the answer through, remembering its last line. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] == '\n') {
				last[lastlen] = '\0';
				ok = strcmp(last, "ok") == 0;
				if (!ok && strncmp(last, "error: ", 7) == 0)
					fprintf(stderr, "numashadow: %s: %s\n",
						cmd, last + 7);
				else if (!ok)
					printf("%s\n", last);
				lastlen = 0;
			} else if (lastlen < sizeof(last) - 1) {
				last[lastlen++] = buf[k];
			}
		}
	}
	close(fd);
	return ok ? 0 : 1;
}

/* --pid PID, shared by migrate and stat: option_number()'s answer. */
static int pid_option(const char *cmd, int argc, char **argv, int *i, long *pid)
{
	return option_number(cmd, "--pid", 1, 4194304, "a process id", argc, argv, i,
			     pid);
}

/* A whole node list for --from or --to: 0, or -EINVAL. */
static int nodes_parse(const char *s, uint64_t *mask)
{
	return parse_nodelist(&s, mask) < 0 || *s ? -EINVAL : 0;
}

static int nodes_valid(const char *s)
{
	uint64_t mask;

	return nodes_parse(s, &mask) == 0;
}

/* START-END, hexadecimal, START < END. */
static int range_valid(const char *s)
{
	uint64_t lo = 0, hi = 0;

	return parse_hex64(&s, &lo) == 0 && *s++ == '-' && parse_hex64(&s, &hi) == 0 &&
	       !*s && hi > lo;
}

/* migrate --from --to: each page on a node of from to the matching node
 * of to, as migrate_pages(2). */
static int migrate_nodes(long pid, const char *from, const char *to, int sync)
{
	uint64_t from_mask = 0, to_mask = 0;
	char req[128];

	nodes_parse(from, &from_mask);
	nodes_parse(to, &to_mask);
	if (__builtin_popcountll(from_mask) != __builtin_popcountll(to_mask))
		return usage_error("migrate", "--from %s and --to %s must name as many nodes (%d and %d)",
				   from, to, __builtin_popcountll(from_mask),
				   __builtin_popcountll(to_mask));
	/* Masks, not the lists: any lists fit the request line. */
	snprintf(req, sizeof(req), "migrate-nodes %#llx %#llx%s",
		 (unsigned long long)from_mask, (unsigned long long)to_mask,
		 sync ? " sync" : "");
	return ctl_request("migrate", pid, req);
}

int cmd_migrate(int argc, char **argv)
{
	const char *range = NULL, *from = NULL, *to = NULL;
	long pid = 0, node = -1;
	int i, m, sync = 0, all = 0;
	char req[128];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (help_asked(a))
			return subcommand_help("migrate");
		/* --to is a list only with --from, which may come later. */
		if ((m = pid_option("migrate", argc, argv, &i, &pid)) ||
		    (m = option_checked("migrate", "--to",
					"a node number 0 to 63 (with --from, a node list like 0,2 or 0-1)",
					nodes_valid, argc, argv, &i, &to)) ||
		    (m = option_checked("migrate", "--from",
					"a node list like 0,2 or 0-1, nodes 0 to 63",
					nodes_valid, argc, argv, &i, &from)) ||
		    (m = option_checked("migrate", "--range",
					"START-END in hexadecimal, START < END",
					range_valid, argc, argv, &i, &range))) {
			if (m < 0)
				return EXIT_USAGE;
		} else if (strcmp(a, "--all") == 0) {
			all = 1;
		} else if (strcmp(a, "--sync") == 0) {
			sync = 1;
		} else {
			return usage_error("migrate", "unknown argument '%s'", a);
		}
	}
	if (!pid)
		return usage_error("migrate", "--pid is required");
	if (!to)
		return usage_error("migrate", "--to is required");
	if (range && all)
		return usage_error("migrate", "--range and --all exclude each other");
	if (from) {
		if (range)
			return usage_error("migrate", "--from and --range exclude each other");
		return migrate_nodes(pid, from, to, sync);
	}
	if (number_parse(to, 0, 63, &node))
		return value_error("migrate", "--to", "a node number 0 to 63 (a list needs --from)",
				   to);
	snprintf(req, sizeof(req), "migrate %ld %s%s", node, range ? range : "all",
		 sync ? " sync" : "");
	return ctl_request("migrate", pid, req);
}

/* ---- stat --json, --interval, --all: the stat answer read back ---- */

/*
 * The runtime answers "stat" in text (runtime/ctl.c, docs/migration.md);
 * these read that text back.  Lines are known by how they start; a line
 * of another shape is skipped, so that a runtime which says more does not
 * break the JSON, but a known line that does not parse is an error.
 */

#define STAT_NODES	64	/* nodes 0 to 63, as the runtime */
#define STAT_ANSWER_MAX	(1 << 20)	/* the runtime's buffer is 256 KiB */

/* An answer split into lines, "ok" dropped. */
struct stat_answer {
	char *buf;
	char **line;
	size_t n;
};

/* Set by SIGINT during --interval: the end, not an error. */
static volatile sig_atomic_t stat_stop;

/* What --interval and --all show of one answer. */
struct stat_sum {
	uint64_t online;		/* nodes with a "node N:" line */
	uint64_t pages[STAT_NODES];
	uint64_t total;
	uint64_t moved;			/* the migration counter */
};

static void stat_answer_free(struct stat_answer *a)
{
	free(a->buf);
	free(a->line);
	a->buf = NULL;
	a->line = NULL;
}

/*
 * Sends "stat" on fd and reads the whole answer into *a.  Returns 0 when
 * it ends with "ok"; 2 when the process is going away (it answered that
 * it is exiting, or closed without a byte), after one line unless quiet;
 * otherwise 1 after one line.
 */
static int stat_fetch_fd(const char *cmd, int fd, long pid, int quiet,
			 struct stat_answer *a)
{
	size_t len = 0, cap = 65536, k;
	char *buf = malloc(cap), *p, *err = NULL;
	ssize_t n;
	int gone;

	memset(a, 0, sizeof(*a));
	errno = 0;
	if (!buf || send(fd, "stat\n", 5, MSG_NOSIGNAL) != 5) {
		/* A peer that hung up is going away too. */
		gone = buf && (errno == EPIPE || errno == ECONNRESET);
		if (!quiet || !gone)
			fprintf(stderr, "numashadow: %s: pid %ld: %s\n", cmd, pid,
				strerror(!buf ? ENOMEM : errno ? errno : EIO));
		free(buf);
		close(fd);
		return gone ? 2 : 1;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *nb = cap >= STAT_ANSWER_MAX ? NULL : realloc(buf, 2 * cap);
			if (!nb)
				break;	/* longer than any answer: cut it here */
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR && !stat_stop)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	a->buf = buf;
	a->line = calloc(len + 1, sizeof(*a->line));	/* a line per byte at most */
	if (!a->line) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(ENOMEM));
		stat_answer_free(a);
		return 1;
	}
	/* Whole lines only: a last one without its newline was cut. */
	for (p = buf; (k = strcspn(p, "\n")), p[k] == '\n'; p += k + 1) {
		p[k] = '\0';
		if (strcmp(p, "ok") == 0)
			return 0;
		if (strncmp(p, "error: ", 7) == 0) {
			err = p + 7;
			break;
		}
		a->line[a->n++] = p;
	}
	gone = len == 0 || (err && !strcmp(err, "the process is exiting"));
	if (stat_stop || (quiet && gone))
		;	/* interrupted on purpose, or gone: nothing to say */
	else if (!err)
		fprintf(stderr, "numashadow: %s: pid %ld: the answer ends without "
			"'ok' (cut short)\n", cmd, pid);
	else
		fprintf(stderr, "numashadow: %s: pid %ld: %s\n", cmd, pid, err);
	stat_answer_free(a);
	return gone ? 2 : 1;
}

/* The stat answer of pid; 0, or 1 after one line.  With quiet_gone,
 * 2 and no line when the process is gone or going: no process, no
 * socket (removed at exit), or an answer saying so. */
static int stat_fetch(const char *cmd, long pid, int quiet_gone,
		      struct stat_answer *a)
{
	int fd;

	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		if (quiet_gone)
			return 2;
		fprintf(stderr, "numashadow: %s: no process %ld\n", cmd, pid);
		return 1;
	}
	fd = ctl_connect_q(cmd, pid, quiet_gone);
	if (fd == -ENOENT)
		return 2;
	if (fd < 0)
		return 1;
	fd = stat_fetch_fd(cmd, fd, pid, quiet_gone, a);
	return fd == 2 && !quiet_gone ? 1 : fd;
}

/* A decimal number at *s, then the exact text lit; 0 or -EINVAL. */
static int scan_u64(const char **s, const char *lit, uint64_t *v)
{
	size_t n = strlen(lit);

	if (parse_u64(s, UINT64_MAX, v) || strncmp(*s, lit, n))
		return -EINVAL;
	*s += n;
	return 0;
}

/* "node N: M pages" into *node, *pages; 0 or -EINVAL. */
static int stat_node_line(const char *s, uint64_t *node, uint64_t *pages)
{
	s += 5;
	if (scan_u64(&s, ": ", node) || *node >= STAT_NODES ||
	    scan_u64(&s, " pages", pages) || *s)
		return -EINVAL;
	return 0;
}

/* One line the parser could not read: the answer's shape changed. */
static int stat_bad_line(const char *cmd, const char *line)
{
	fprintf(stderr, "numashadow: %s: cannot read the answer's line '%.200s'\n",
		cmd, line);
	return 1;
}

/* Pages per node and the moved counter of an answer; 0, or 1 after one
 * line. */
static int stat_summarize(const char *cmd, const struct stat_answer *a,
			  struct stat_sum *sum)
{
	uint64_t node, pages;

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->line[i];

		if (strncmp(s, "node ", 5) == 0) {
			if (stat_node_line(s, &node, &pages))
				return stat_bad_line(cmd, s);
			sum->online |= 1ULL << node;
			sum->pages[node] = pages;
			sum->total += pages;
		} else if (strncmp(s, "migrations:", 11) == 0) {
			const char *m = strstr(s, " moved ");
			if (!m)
				return stat_bad_line(cmd, s);
			m += 7;
			if (parse_u64(&m, UINT64_MAX, &sum->moved))
				return stat_bad_line(cmd, s);
		}
	}
	if (!sum->online) {
		fprintf(stderr, "numashadow: %s: the answer has no 'node N: M pages' line\n",
			cmd);
		return 1;
	}
	return 0;
}

/* s as a JSON string. */
static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The pages per node of sum as a JSON object {"N":PAGES,...}. */
static void json_sum_nodes(FILE *f, const struct stat_sum *sum)
{
	const char *sep = "";

	fputc('{', f);
	for (int n = 0; n < STAT_NODES; n++)
		if (sum->online >> n & 1) {
			fprintf(f, "%s\"%d\":%" PRIu64, sep, n, sum->pages[n]);
			sep = ",";
		}
	fputc('}', f);
}

/* " nodeN=COUNT" pairs at s as a JSON object {"N":COUNT,...}; 0 or
 * -EINVAL. */
static int json_node_pairs(FILE *f, const char *s)
{
	uint64_t node, pages;
	const char *sep = "";

	fputc('{', f);
	while (*s) {
		if (strncmp(s, " node", 5))
			return -EINVAL;
		s += 5;
		if (scan_u64(&s, "=", &node) || parse_u64(&s, UINT64_MAX, &pages))
			return -EINVAL;
		fprintf(f, "%s\"%" PRIu64 "\":%" PRIu64, sep, node, pages);
		sep = ",";
	}
	fputc('}', f);
	return 0;
}

/* "START-END PERMS KIND nodeN=COUNT..." as a JSON object; 0 or -EINVAL. */
static int json_mapping(FILE *f, const char *s)
{
	uint64_t lo, hi;
	size_t pl, kl;

	if (parse_hex64(&s, &lo) || *s++ != '-' || parse_hex64(&s, &hi) ||
	    *s++ != ' ')
		return -EINVAL;
	pl = strcspn(s, " ");
	if (!s[pl] || !pl)
		return -EINVAL;
	kl = strcspn(s + pl + 1, " ");
	fprintf(f, "{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\",\"perms\":", lo, hi);
	json_str(f, s, pl);
	fprintf(f, ",\"kind\":");
	json_str(f, s + pl + 1, kl);
	fprintf(f, ",\"nodes\":");
	if (json_node_pairs(f, s + pl + 1 + kl))
		return -EINVAL;
	fputc('}', f);
	return 0;
}

/* "shared ADDR node N: pid P at A, pid P at A" as a JSON object; 0 or
 * -EINVAL.  The runtime cuts a long list of mappers short. */
static int json_shared(FILE *f, const char *s)
{
	uint64_t addr, node, pid, at;
	const char *sep = "";
	int64_t snode;

	s += 7;
	if (parse_hex64(&s, &addr) || strncmp(s, " node ", 6))
		return -EINVAL;
	s += 6;
	/* The node may be -1, not known. */
	snode = *s == '-' ? (s++, -1) : 1;
	if (scan_u64(&s, ":", &node))
		return -EINVAL;
	fprintf(f, "{\"addr\":\"0x%" PRIx64 "\",\"node\":%" PRId64 ",\"mappers\":[", addr,
	       snode * (int64_t)node);
	while (*s == ' ') {
		s++;
		if (strncmp(s, "pid ", 4))
			return -EINVAL;
		s += 4;
		if (scan_u64(&s, " at ", &pid) || parse_hex64(&s, &at))
			return -EINVAL;
		fprintf(f, "%s{\"pid\":%" PRIu64 ",\"addr\":\"0x%" PRIx64 "\"}", sep, pid, at);
		sep = ",";
		if (*s == ',')
			s++;
	}
	if (*s)
		return -EINVAL;
	fprintf(f, "]}");
	return 0;
}

/* "migrations: KEY N KEY N ..." as a JSON object, '-' in keys as '_';
 * 0 or -EINVAL. */
static int json_counters(FILE *f, const char *s)
{
	const char *sep = "";
	uint64_t v;

	s += 11;
	fputc('{', f);
	while (*s == ' ') {
		size_t kl = strcspn(++s, " ");
		if (!kl || s[kl] != ' ')
			return -EINVAL;
		fputc(*sep ? ',' : '"', f);
		if (*sep)
			fputc('"', f);
		for (size_t i = 0; i < kl; i++) {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
				return -EINVAL;
			fputc(s[i] == '-' ? '_' : s[i], f);
		}
		s += kl + 1;
		if (parse_u64(&s, UINT64_MAX, &v))
			return -EINVAL;
		fprintf(f, "\":%" PRIu64, v);
		sep = ",";
	}
	fputc('}', f);
	return *s ? -EINVAL : 0;
}

/* The answer's lines starting with prefix, each made an object by one, as
 * a JSON array.  Returns 0, or 1 after one line for a line that does not
 * parse. */
static int json_array(FILE *f, const char *cmd, const struct stat_answer *a,
		      const char *prefix, int (*one)(FILE *, const char *))
{
	const char *sep = "";

	fputc('[', f);
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], prefix, strlen(prefix)) == 0) {
			fputs(sep, f);
			if (one(f, a->line[i]))
				return stat_bad_line(cmd, a->line[i]);
			sep = ",";
		}
	fputc(']', f);
	return 0;
}

/*
 * The answer as one JSON object on one line (keys: docs/migration.md),
 * into f.  Each section is a pass over the lines: the text groups them
 * the same way, and a missing section is an empty one.  Returns 0, or 1
 * after one line.
 */
static int stat_json_write(FILE *f, const char *cmd, long pid,
			   const struct stat_answer *a, const struct stat_sum *sum)
{
	uint64_t shared = 0, mappings = 0, node, pages;
	const char *sep;
	int has_counters = 0;

	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->line[i];
		if (strncmp(s, "shared pages: ", 14) == 0) {
			s += 14;
			if (scan_u64(&s, ", with ", &shared) ||
			    scan_u64(&s, " mappings in the family", &mappings) || *s)
				return stat_bad_line(cmd, a->line[i]);
		}
	}
	fprintf(f, "{\"pid\":%ld,\"nodes\":{", pid);
	sep = "";
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], "node ", 5) == 0 &&
		    stat_node_line(a->line[i], &node, &pages) == 0) {
			fprintf(f, "%s\"%" PRIu64 "\":%" PRIu64, sep, node, pages);
			sep = ",";
		}
	fprintf(f, "},\"pages\":%" PRIu64 ",\"shared_pages\":%" PRIu64
	       ",\"shared_mappings\":%" PRIu64 ",\"migrations\":", sum->total, shared,
	       mappings);
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], "migrations:", 11) == 0) {
			if (json_counters(f, a->line[i]))
				return stat_bad_line(cmd, a->line[i]);
			has_counters = 1;
			break;
		}
	if (!has_counters)
		fprintf(f, "{}");
	fprintf(f, ",\"mappings\":");
	if (json_array(f, cmd, a, "0x", json_mapping))
		return 1;
	fprintf(f, ",\"shared\":");
	if (json_array(f, cmd, a, "shared 0x", json_shared))
		return 1;
	fprintf(f, "}\n");
	return 0;
}

/* The object on stdout only when it is whole: a script gets all of it
 * or nothing.  Returns 0, or 1 after one line. */
static int stat_json(const char *cmd, long pid, const struct stat_answer *a,
		     const struct stat_sum *sum)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(errno));
		return 1;
	}
	err = stat_json_write(f, cmd, pid, a, sum);
	if (fclose(f) && !err) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(ENOMEM));
		err = 1;
	}
	if (!err)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return err;
}

static void stat_on_sigint(int sig)
{
	(void)sig;
	stat_stop = 1;
}

static double mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The header of the columns of pages per node: nodeN for each of nodes. */
static void nodes_head(uint64_t nodes)
{
	for (int n = 0; n < STAT_NODES; n++)
		if (nodes >> n & 1) {
			char label[16];
			snprintf(label, sizeof(label), "node%d", n);
			printf(" %11s", label);
		}
}

/* The pages of sum on each of nodes, under nodes_head(). */
static void nodes_row(uint64_t nodes, const struct stat_sum *sum)
{
	for (int n = 0; n < STAT_NODES; n++)
		if (nodes >> n & 1)
			printf(" %11" PRIu64, sum->pages[n]);
}

/* The change per second of the total and of the moved counter, from
 * prev to sum, dt seconds later. */
static void stat_rates(const struct stat_sum *sum, const struct stat_sum *prev,
		       double dt, double *pages, double *moved)
{
	*pages = ((double)sum->total - (double)prev->total) / dt;
	/* A counter that went back (it never should): none. */
	*moved = sum->moved >= prev->moved ? (double)(sum->moved - prev->moved) / dt : 0.0;
}

/* One answer of pid, summed into *sum, and when it came, *t.  Returns 0,
 * -1 when the view ends (SIGINT, or the process ended after the first
 * line: one line on stderr), or 1 after one line. */
static int interval_sample(long pid, long lines, struct stat_sum *sum, double *t)
{
	struct stat_answer a;
	int err;

	/* After the first line, the process going away is the end
	 * of the view, not an error. */
	err = stat_fetch("stat", pid, lines > 0, &a);
	if (err) {
		if (stat_stop)
			return -1;
		if (err == 2) {
			fprintf(stderr, "numashadow: stat: pid %ld has ended\n", pid);
			return -1;
		}
		return 1;
	}
	*t = mono_now();
	err = stat_summarize("stat", &a, sum);
	stat_answer_free(&a);
	return err ? 1 : 0;
}

/* A line of --interval --json: sum, at time since the first line; the
 * rates from prev, dt seconds before (prev NULL: none yet). */
static void interval_json(long pid, double time, const struct stat_sum *sum,
			  const struct stat_sum *prev, double dt)
{
	double pages, moved;

	printf("{\"time\":%.3f,\"pid\":%ld,\"nodes\":", time, pid);
	json_sum_nodes(stdout, sum);
	printf(",\"pages\":%" PRIu64 ",\"moved\":%" PRIu64, sum->total, sum->moved);
	if (prev) {
		stat_rates(sum, prev, dt, &pages, &moved);
		printf(",\"pages_per_s\":%.1f,\"moved_per_s\":%.1f}\n", pages, moved);
	} else {
		printf(",\"pages_per_s\":null,\"moved_per_s\":null}\n");
	}
}

/* A line of --interval, as interval_json() says it, the columns of
 * nodes. */
static void interval_text(uint64_t nodes, double time, const struct stat_sum *sum,
			  const struct stat_sum *prev, double dt)
{
	double pages, moved;

	printf("%9.3f", time);
	nodes_row(nodes, sum);
	printf(" %11" PRIu64, sum->total);
	if (prev) {
		stat_rates(sum, prev, dt, &pages, &moved);
		printf(" %10.1f %10.1f\n", pages, moved);
	} else {
		printf(" %10s %10s\n", "-", "-");
	}
}

/* Sleeps to *next + interval, on a grid from the start: a slow answer
 * does not drift it. */
static void interval_sleep(double *next, double interval)
{
	double t;

	*next += interval;
	t = mono_now();
	if (*next > t) {
		struct timespec ts = { (time_t)(*next - t),
			(long)((*next - t - (double)(time_t)(*next - t)) * 1e9) };
		nanosleep(&ts, NULL);
	} else {
		*next = t;
	}
}

/*
 * One line per interval, as vmstat: seconds since the first line, pages
 * per node (the nodes of the first answer), their total, and the change
 * of the total and of the moved counter per second since the line before
 * ("-" on the first).  Until SIGINT (exit 0), count lines, or the process
 * ends (exit 0 after one line on stderr).
 */
static int stat_interval(long pid, double interval, long count, int json)
{
	struct sigaction sa = { .sa_handler = stat_on_sigint };
	struct stat_sum sum, prev;
	double t0 = 0, tprev = 0, t = 0, next;
	long lines = 0;
	uint64_t nodes = 0;
	int err;

	/* No SA_RESTART: the signal ends the sleep or the read at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	next = mono_now();
	while (!stat_stop && (!count || lines < count)) {
		err = interval_sample(pid, lines, &sum, &t);
		if (err)
			return err < 0 ? 0 : 1;
		if (!lines) {
			nodes = sum.online;
			t0 = t;
		}
		if (!lines && !json) {
			printf("%9s", "time");
			nodes_head(nodes);
			printf(" %11s %10s %10s\n", "total", "pages/s", "moved/s");
		}
		if (json)
			interval_json(pid, t - t0, &sum, lines && t > tprev ? &prev : NULL,
				      t - tprev);
		else
			interval_text(nodes, t - t0, &sum, lines && t > tprev ? &prev : NULL,
				      t - tprev);
		prev = sum;
		tprev = t;
		lines++;
		if (count && lines >= count)
			break;
		interval_sleep(&next, interval);
	}
	return 0;
}

/* One process of --all. */
struct stat_proc {
	long pid;
	char comm[20];
	struct stat_sum sum;
};

static int stat_proc_cmp(const void *x, const void *y)
{
	const struct stat_proc *a = x, *b = y;

	return (a->pid > b->pid) - (a->pid < b->pid);
}

/* /proc/PID/comm, printable ASCII (spaces kept): the name is the
 * program's to choose. */
static void comm_read(long pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

/* The answer of the process of socket file name in dir (dfd), its pid
 * into *pid: 0, or -1 to pass it by.  A socket file is taken only when
 * it is a socket (not a symbolic link) owned by us and writable by no one
 * else (else one line says so); the process must exist, listen on it and
 * be its SO_PEERCRED pid.  Stale sockets of dead processes are passed by
 * quietly. */
static int stat_sock_fetch(int dfd, const char *dir, const char *name, long *pid,
			   struct stat_answer *a)
{
	const char *p = name;
	uint64_t n;
	struct stat st;
	int fd;

	if (parse_u64(&p, 4194304, &n) || strcmp(p, ".sock") || !n)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISSOCK(st.st_mode))
		return -1;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		fprintf(stderr, "numashadow: stat: %s/%s is not yours alone "
			"(uid %ld, mode %04o); skipped\n", dir, name,
			(long)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (kill((pid_t)n, 0) && errno == ESRCH)
		return -1;	/* a dead process's socket */
	fd = ctl_connect_name("stat", dir, name, (long)n);
	if (fd < 0)
		return -1;	/* stale, or said why */
	*pid = (long)n;
	return stat_fetch_fd("stat", fd, (long)n, 1, a) ? -1 : 0;
}

/* The processes with a socket in dir (dfd, closed here) into *v (*n of
 * them), the nodes any answered for into *nodes.  Returns 0, or 1 after
 * one line. */
static int stat_procs_read(int dfd, const char *dir, struct stat_proc **v, size_t *n,
			   uint64_t *nodes)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	/* O_PATH cannot be read: list it by a descriptor of its own,
	 * reached through the checked one. */
	int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (lfd < 0 || fchdir(dfd) || !(d = fdopendir(lfd))) {
		fprintf(stderr, "numashadow: stat: %s: %s\n", dir, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		close(dfd);
		return 1;
	}
	while ((de = readdir(d))) {
		struct stat_answer a;
		long pid;

		if (stat_sock_fetch(dfd, dir, de->d_name, &pid, &a))
			continue;
		if (*n == cap) {
			struct stat_proc *nv = realloc(*v, (cap = cap ? 2 * cap : 16) *
							   sizeof(**v));
			if (!nv) {
				stat_answer_free(&a);
				break;
			}
			*v = nv;
		}
		(*v)[*n].pid = pid;
		if (stat_summarize("stat", &a, &(*v)[*n].sum) == 0) {
			comm_read(pid, (*v)[*n].comm, sizeof((*v)[*n].comm));
			*nodes |= (*v)[*n].sum.online;
			++*n;
		}
		stat_answer_free(&a);
	}
	closedir(d);
	close(dfd);
	return 0;
}

/* --all's lines: pid, command, pages per node (each of nodes), total. */
static void stat_procs_print(const struct stat_proc *v, size_t n, uint64_t nodes,
			     int json)
{
	if (json) {
		for (size_t i = 0; i < n; i++) {
			printf("{\"pid\":%ld,\"command\":", v[i].pid);
			json_str(stdout, v[i].comm, strlen(v[i].comm));
			printf(",\"nodes\":");
			json_sum_nodes(stdout, &v[i].sum);
			printf(",\"pages\":%" PRIu64 "}\n", v[i].sum.total);
		}
		return;
	}
	printf("%8s %-16s", "pid", "command");
	nodes_head(nodes);
	printf(" %11s\n", "total");
	for (size_t i = 0; i < n; i++) {
		printf("%8ld %-16s", v[i].pid, v[i].comm);
		nodes_row(nodes, &v[i].sum);
		printf(" %11" PRIu64 "\n", v[i].sum.total);
	}
}

/*
 * Every process of ours with a control socket in our socket directory
 * (checked as for --pid), one line each (stat_sock_fetch() says which
 * sockets are taken).
 */
static int stat_all(int json)
{
	char dir[SUN_PATH_SIZE], name[32];
	struct stat_proc *v = NULL;
	size_t n = 0;
	uint64_t nodes = 0;
	int dfd;

	if (ctl_path("stat", 1, dir, sizeof(dir), name, sizeof(name)))
		return 1;
	dfd = ctl_dir_open("stat", dir);
	if (dfd < 0 && dfd != -ENOENT)
		return 1;
	if (dfd >= 0 && stat_procs_read(dfd, dir, &v, &n, &nodes))
		return 1;
	qsort(v, n, sizeof(*v), stat_proc_cmp);
	stat_procs_print(v, n, nodes, json);
	free(v);
	return 0;
}

/* err, or 1 when what went to stdout did not all get there (a full
 * disk, a closed pipe): a script must not take a cut answer as whole. */
static int stat_out_check(int err)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "numashadow: stat: standard output: %s\n",
			strerror(errno ? errno : EIO));
		return 1;
	}
	return err;
}

/* SECONDS for --interval: 0.001 to 86400 (a day), into *ns. */
static int interval_parse(const char *s, uint64_t *ns)
{
	return parse_seconds(&s, ns) || *s || *ns < 1000000 ||
	       *ns > 86400000000000ULL ? -EINVAL : 0;
}

static int interval_valid(const char *s)
{
	uint64_t ns;

	return interval_parse(s, &ns) == 0;
}

int cmd_stat(int argc, char **argv)
{
	const char *interval_s = NULL;
	long pid = 0, count = 0;
	int i, m, json = 0, all = 0;
	uint64_t interval_ns = 0;

	for (i = 1; i < argc; i++) {
		if (help_asked(argv[i]))
			return subcommand_help("stat");
		if ((m = pid_option("stat", argc, argv, &i, &pid))) {
			if (m < 0)
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if ((m = option_checked("stat", "--interval",
					       "seconds from 0.001 to 86400, such as 0.5",
					       interval_valid, argc, argv, &i, &interval_s)) ||
			   (m = option_number("stat", "--count", 1, 1000000000,
					      "a number of lines from 1", argc, argv, &i,
					      &count))) {
			if (m < 0)
				return EXIT_USAGE;
		} else {
			return usage_error("stat", "unknown argument '%s'", argv[i]);
		}
	}
	if (interval_s)
		interval_parse(interval_s, &interval_ns);
	if (all) {
		if (pid)
			return usage_error("stat", "--all and --pid exclude each other");
		if (interval_s || count)
			return usage_error("stat", "--all takes no --interval or --count");
		return stat_out_check(stat_all(json));
	}
	if (!pid)
		return usage_error("stat", "--pid (or --all) is required");
	if (count && !interval_s)
		return usage_error("stat", "--count needs --interval");
	if (interval_s)
		return stat_out_check(stat_interval(pid, (double)interval_ns / 1e9,
						    count, json));
	if (json) {
		struct stat_answer a;
		struct stat_sum sum;
		int err;

		if (stat_fetch("stat", pid, 0, &a))
			return 1;
		err = stat_summarize("stat", &a, &sum);
		if (!err)
			err = stat_json("stat", pid, &a, &sum);
		stat_answer_free(&a);
		return stat_out_check(err);
	}
	return ctl_request("stat", pid, "stat");
}
