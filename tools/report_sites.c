/* SPDX-License-Identifier: MIT */
/*
 * report_sites.c - `numashadow report`: call sites, their objects and the
 * outcome of migrations (trace format 2, include/numashadow_trace.h).
 *
 * The runtime records raw return addresses, each with the id of its
 * object (the ELF file it ran in: path, GNU build id, load bias); nothing
 * is symbolized there.  Here, once the whole trace is read, the objects of
 * the sites the report lists are opened on this machine: a file whose
 * build id differs from the recorded one, or that is missing, is said to
 * be so rather than read; otherwise the function comes from its symbol
 * table (.symtab, else .dynsym) and, where it has debug info, the file
 * and line from addr2line(1) (binutils), run once per object with its
 * addresses as arguments, never through a shell.  The trace is untrusted
 * (docs/security.md): every id, count and length in it is checked, an
 * object is opened only as a regular file, its sections are bounded.
 *
 * Sites and objects are keyed by (pid, image, id): a process numbers its
 * own, afresh after an exec; a fork child's FAULT records name its
 * parent's (up to RP_PARENTS generations are looked up).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "report.h"

#define SYM_MAX_SECTION	(256u << 20)	/* bytes of a symbol table read at most */
#define SYM_MAX_OUT	(1u << 20)	/* bytes of addr2line's answer read */

/* An object's functions, sorted by address. */
struct sym_table {
	struct sym { uint64_t lo, hi; uint32_t name; } *v;
	size_t n;
	char *str;		/* the string table */
	size_t strsize;
	int debug;		/* it has .debug_info or .debug_line */
};

static const char *const fail_names[RP_FAIL_CLASSES] = {
	"EACCES", "ENOENT", "ENOMEM", "EFAULT", "EBUSY", "other" };

static int fail_class(int cls)
{
	switch (cls) {
	case NS_TR_EACCES: return 0;
	case NS_TR_ENOENT: return 1;
	case NS_TR_ENOMEM: return 2;
	case NS_TR_EFAULT: return 3;
	case NS_TR_EBUSY: return 4;
	}
	return 5;
}

const char *rs_fail_name(int cls)
{
	return fail_names[fail_class(cls)];
}

/* ---- keys ---- */

static size_t key_hash(int32_t pid, uint32_t image, uint32_t id, size_t nslots)
{
	uint64_t h = ((uint64_t)(uint32_t)pid << 32 | id) * 0x9e3779b97f4a7c15ull ^ image;

	return (size_t)(h ^ h >> 31) & (nslots - 1);
}

/* The index + 1 of (pid, image, id), 0: none. */
static uint32_t key_find(const struct rp_keys *k, int32_t pid, uint32_t image, uint32_t id)
{
	if (!k->nslots)
		return 0;
	for (size_t h = key_hash(pid, image, id, k->nslots); k->slot[h].idx;
	     h = (h + 1) & (k->nslots - 1))
		if (k->slot[h].pid == pid && k->slot[h].image == image && k->slot[h].id == id)
			return k->slot[h].idx;
	return 0;
}

/* Adds (pid, image, id) -> idx (not there yet); 0 or -ENOMEM. */
static int key_add(struct rp_keys *k, int32_t pid, uint32_t image, uint32_t id, uint32_t idx)
{
	size_t h;

	if (2 * (k->n + 1) > k->nslots) {
		size_t nslots = k->nslots ? 2 * k->nslots : 256;
		struct rp_key *v = calloc(nslots, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < k->nslots; i++) {
			if (!k->slot[i].idx)
				continue;
			for (h = key_hash(k->slot[i].pid, k->slot[i].image, k->slot[i].id, nslots);
			     v[h].idx; h = (h + 1) & (nslots - 1))
				;
			v[h] = k->slot[i];
		}
		free(k->slot);
		k->slot = v;
		k->nslots = nslots;
	}
	for (h = key_hash(pid, image, id, k->nslots); k->slot[h].idx; h = (h + 1) & (k->nslots - 1))
		;
	k->slot[h] = (struct rp_key){ pid, image, id, idx };
	k->n++;
	return 0;
}

static uint32_t image_of(struct rp *rp, int32_t pid)
{
	struct tr_proc *p = proc_find(&rp->ps, pid);

	return p ? p->image : 0;
}

/*
 * A table of sites or objects: at most RP_MAX_SITES entries of size
 * bytes at *v (allocated on first use), *n of them in use, found by
 * their (pid, image, id) in keys.
 */
struct entry_table {
	struct rp_keys *keys;
	void *v;
	size_t *n, *skipped;	/* *skipped: entries past the cap */
	size_t size;
};

/* The entry of key's (pid, image, id), made a copy of key on first use;
 * NULL when the cap is reached (counted) or out of memory (*nomem set). */
static void *entry_get(struct entry_table *t, int32_t pid, uint32_t image,
		       uint32_t id, const void *key, int *nomem)
{
	uint32_t i = key_find(t->keys, pid, image, id);

	if (i)
		return (char *)t->v + (i - 1) * t->size;
	if (*t->n == RP_MAX_SITES) {
		++*t->skipped;
		return NULL;
	}
	if ((!t->v && !(t->v = calloc(RP_MAX_SITES, t->size))) ||
	    key_add(t->keys, pid, image, id, (uint32_t)*t->n + 1)) {
		*nomem = 1;
		return NULL;
	}
	return memcpy((char *)t->v + (*t->n)++ * t->size, key, t->size);
}

/* The site (pid, its image, id), made on first use; NULL when the cap is
 * reached (counted) or out of memory (*nomem set). */
static struct rp_site *site_get(struct rp *rp, int32_t pid, uint32_t id, int *nomem)
{
	struct rp_site key = { .pid = pid, .image = image_of(rp, pid), .id = id,
			       .nframes = -1 };
	struct entry_table t = { &rp->site_keys, rp->sites, &rp->nsites,
				 &rp->sites_skipped, sizeof(key) };
	struct rp_site *d = entry_get(&t, pid, key.image, id, &key, nomem);

	rp->sites = t.v;
	return d;
}

/* The object (pid, its image, id), as site_get(). */
static struct rp_obj *obj_get(struct rp *rp, int32_t pid, uint32_t id, int *nomem)
{
	struct rp_obj key = { .pid = pid, .image = image_of(rp, pid), .id = id };
	struct entry_table t = { &rp->obj_keys, rp->objs, &rp->nobjs,
				 &rp->objs_skipped, sizeof(key) };
	struct rp_obj *o = entry_get(&t, pid, key.image, id, &key, nomem);

	rp->objs = t.v;
	return o;
}

/* ---- counting ---- */

/* A FAULT record, on node (or TR_KERNEL), into the site of its mapping
 * ms; *nomem set when out of memory. */
static void rs_fault(struct rp *rp, const struct ns_trace_rec *r, struct rp_mstat *ms,
		     int node, int *nomem)
{
	uint64_t pages = r->len >> TR_PAGE_SHIFT;
	struct rp_site *st;

	if (!r->aux || !(st = site_get(rp, r->pid, r->aux, nomem))) {
		rp->un_site_placed += pages;
		return;
	}
	st->placed[node] += pages;
	st->placed_total += pages;
	if (ms && !ms->site)
		ms->site = (uint32_t)(st - rp->sites) + 1;
}

/* An OBJECT record: the object's bias, and room for the bytes of its
 * build id and path the BYTES records bring; *nomem set when out of
 * memory. */
static void rs_object(struct rp *rp, const struct ns_trace_rec *r, int *nomem)
{
	struct rp_obj *o = obj_get(rp, r->pid, r->aux, nomem);

	if (!o || o->bytes)
		return;	/* the first naming stands */
	o->bias = r->addr;
	o->bidlen = r->node > 0 ? (uint32_t)(r->node < NS_TRACE_BUILD_ID ? r->node
								: NS_TRACE_BUILD_ID) : 0;
	o->plen = (uint32_t)(r->len < NS_TRACE_PATH ? r->len : NS_TRACE_PATH);
	if (!(o->bytes = calloc(1, o->bidlen + o->plen + 1)))
		*nomem = 1;
}

/* A BYTES record: 16 bytes of an object's build id then path, each
 * chunk taken once; *nomem set when out of memory. */
static void rs_bytes(struct rp *rp, const struct ns_trace_rec *r, int *nomem)
{
	uint64_t chunk[2] = { r->addr, r->len };
	uint32_t k = (uint32_t)r->node, total;
	struct rp_obj *o = obj_get(rp, r->pid, r->aux, nomem);

	if (!o || !o->bytes || r->node < 0)
		return;
	total = o->bidlen + o->plen;
	if ((uint64_t)k * 16 >= total || o->got[k / 64] >> (k % 64) & 1)
		return;
	memcpy(o->bytes + k * 16, chunk, total - k * 16 < 16 ? total - k * 16 : 16);
	o->got[k / 64] |= 1ull << (k % 64);
	o->have++;
}

/* A MIGRATE_END record: the call's outcome, its duration kept up to
 * RP_MAX_LAT; returns 0 or -ENOMEM. */
static int rs_migrate_end(struct rp *rp, const struct ns_trace_rec *r)
{
	rp->lat_calls++;
	rp->fail_pages += r->len;
	rp->calls_failed += r->node != 0;
	if (rp->nlat == RP_MAX_LAT) {
		rp->lat_skipped++;
		return 0;
	}
	if (rp->nlat == rp->lat_cap) {
		size_t cap = rp->lat_cap ? 2 * rp->lat_cap : 1024;
		uint64_t *v = realloc(rp->lat, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rp->lat = v;
		rp->lat_cap = cap;
	}
	rp->lat[rp->nlat++] = r->addr;
	return 0;
}

int rs_count(struct rp *rp, const struct ns_trace_rec *r, struct rp_mstat *ms)
{
	int nomem = 0, node = r->node >= 0 && r->node < TR_NODES ? r->node : TR_KERNEL;
	struct rp_site *st;

	switch (r->type) {
	case NS_TR_FAULT:
		rs_fault(rp, r, ms, node, &nomem);
		break;
	case NS_TR_OBJECT:
		rs_object(rp, r, &nomem);
		break;
	case NS_TR_BYTES:
		rs_bytes(rp, r, &nomem);
		break;
	case NS_TR_SITE:
		st = site_get(rp, r->pid, r->aux, &nomem);
		if (st && st->nframes < 0)
			st->nframes = r->node < 0 ? 0 : r->node > NS_TRACE_DEPTH ? NS_TRACE_DEPTH
									   : r->node;
		break;
	case NS_TR_FRAME:
		st = site_get(rp, r->pid, r->aux, &nomem);
		if (!st || r->node < 0 || r->node >= NS_TRACE_DEPTH || st->fr[r->node].obj)
			break;
		st->fr[r->node] = (struct rp_frame){ .ip = r->addr, .off = r->len,
						     .obj = r->tid > 0 ? r->tid : -1 };
		break;
	case NS_TR_MIGRATE_END:
		return rs_migrate_end(rp, r);
	case NS_TR_MIGRATE_FAIL:
		rp->fail[fail_class(r->node)] += r->aux;
		break;
	}
	return nomem ? -ENOMEM : 0;
}

void rs_free(struct rp *rp)
{
	for (size_t i = 0; i < rp->nsites; i++)
		for (int k = 0; k < NS_TRACE_DEPTH; k++) {
			free(rp->sites[i].fr[k].func);
			free(rp->sites[i].fr[k].line);
		}
	for (size_t i = 0; i < rp->nobjs; i++) {
		struct sym_table *t = rp->objs[i].sym;
		if (t) {
			free(t->v);
			free(t->str);
			free(t);
		}
		free(rp->objs[i].bytes);
	}
	free(rp->sites);
	free(rp->objs);
	free(rp->site_keys.slot);
	free(rp->obj_keys.slot);
	free(rp->lat);
}

/* ---- reading an object's file ---- */

static const char *obj_path(const struct rp_obj *o)
{
	return o->bytes ? (const char *)o->bytes + o->bidlen : "";
}

/* All its chunks came (records may have been lost). */
static int obj_whole(const struct rp_obj *o)
{
	return o->bytes && o->have == (o->bidlen + o->plen + 15) / 16;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* A section's bytes, malloc'd; NULL when too big or unreadable. */
static void *section_read(int fd, const Elf64_Shdr *sh)
{
	void *b;

	if (sh->sh_type == SHT_NOBITS || sh->sh_size > SYM_MAX_SECTION)
		return NULL;
	b = malloc(sh->sh_size + 1);
	if (b && pread_all(fd, b, sh->sh_size, sh->sh_offset)) {
		free(b);
		return NULL;
	}
	if (b)
		((char *)b)[sh->sh_size] = '\0';
	return b;
}

/* The GNU build id among the notes of [p, p + n) into bid; its length. */
static size_t notes_build_id(const uint8_t *p, size_t n, uint8_t *bid)
{
	size_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= n) {
		const Elf64_Nhdr *h = (const void *)(p + off);
		size_t name = off + sizeof(*h), desc = name + ((h->n_namesz + 3ull) & ~3ull);
		if (desc > n || h->n_descsz > n - desc)
			break;
		if (h->n_type == NT_GNU_BUILD_ID && h->n_namesz == 4 && !memcmp(p + name, "GNU", 4)) {
			size_t len = h->n_descsz < NS_TRACE_BUILD_ID ? h->n_descsz : NS_TRACE_BUILD_ID;
			memcpy(bid, p + desc, len);
			return len;
		}
		off = desc + ((h->n_descsz + 3ull) & ~3ull);
	}
	return 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* o's file on this machine, opened when it is a regular file; -1 after
 * setting o->status when not. */
static int obj_fd(struct rp_obj *o)
{
	const char *path = obj_path(o);
	struct stat st;
	int fd = -1;

	if (!obj_whole(o)) {
		o->status = "its name was not recorded whole: records lost";
		return -1;
	}
	if (!*path || path[0] != '/') {
		o->status = "no file (the vDSO, or no path recorded)";
		return -1;
	}
	/* Look first: opening a FIFO blocks, a device may act. */
	if (stat(path, &st) || !S_ISREG(st.st_mode) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		o->status = "the object is missing on this machine";
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The GNU build id of ELF file fd (its n section headers sh) into bid;
 * its length, 0 when it has none. */
static size_t elf_build_id(int fd, const Elf64_Shdr *sh, int n, uint8_t *bid)
{
	size_t bidlen = 0;

	for (int i = 0; i < n && !bidlen; i++) {
		uint8_t *p;
		if (sh[i].sh_type != SHT_NOTE || sh[i].sh_size > (1u << 20) ||
		    !(p = section_read(fd, &sh[i])))
			continue;
		bidlen = notes_build_id(p, sh[i].sh_size, bid);
		free(p);
	}
	return bidlen;
}

/* The functions of symbol table sh[symx] of ELF file fd into t, sorted. */
static void sym_read(struct sym_table *t, int fd, const Elf64_Shdr *sh, int symx)
{
	Elf64_Sym *sy = section_read(fd, &sh[symx]);
	size_t n = sy ? sh[symx].sh_size / sizeof(Elf64_Sym) : 0;

	t->str = section_read(fd, &sh[sh[symx].sh_link]);
	t->strsize = t->str ? sh[sh[symx].sh_link].sh_size : 0;
	t->v = t->str ? malloc((n ? n : 1) * sizeof(*t->v)) : NULL;
	for (size_t i = 0; t->v && i < n; i++) {
		int type = ELF64_ST_TYPE(sy[i].st_info);
		if ((type == STT_FUNC || type == STT_GNU_IFUNC) && sy[i].st_shndx &&
		    sy[i].st_value && sy[i].st_name < t->strsize)
			t->v[t->n++] = (struct sym){ sy[i].st_value,
				sy[i].st_value + (sy[i].st_size ? sy[i].st_size : 1),
				sy[i].st_name };
	}
	if (t->v)
		qsort(t->v, t->n, sizeof(*t->v), sym_cmp);
	free(sy);
}

/* The functions of ELF file fd (header eh, section headers sh), from
 * .symtab, else .dynsym, and whether it has debug info; NULL when out of
 * memory. */
static struct sym_table *sym_load(int fd, const Elf64_Ehdr *eh, const Elf64_Shdr *sh)
{
	struct sym_table *t = calloc(1, sizeof(*t));
	char *shstr = section_read(fd, &sh[eh->e_shstrndx]);
	int symx = -1;

	if (!t) {
		free(shstr);
		return NULL;
	}
	for (int i = 0; i < eh->e_shnum; i++) {
		const char *name = shstr && sh[i].sh_name < sh[eh->e_shstrndx].sh_size
				   ? shstr + sh[i].sh_name : "";
		if (!strcmp(name, ".debug_info") || !strcmp(name, ".debug_line"))
			t->debug = 1;
		if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && symx < 0))
			symx = i;
	}
	if (symx >= 0 && sh[symx].sh_link < eh->e_shnum &&
	    sh[symx].sh_entsize == sizeof(Elf64_Sym))
		sym_read(t, fd, sh, symx);
	free(shstr);
	return t;
}

/* Opens o's file on this machine, checks it is the object that ran (its
 * build id), and reads its functions.  Sets o->status when it cannot. */
static void obj_open(struct rp_obj *o)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	uint8_t bid[NS_TRACE_BUILD_ID];
	size_t bidlen;
	int fd = obj_fd(o);

	if (fd < 0)
		return;
	if (pread_all(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shnum || eh.e_shstrndx >= eh.e_shnum) {
		o->status = "not a 64-bit little-endian ELF file with sections";
		goto out;
	}
	sh = malloc(eh.e_shnum * sizeof(*sh));
	if (!sh || pread_all(fd, sh, eh.e_shnum * sizeof(*sh), eh.e_shoff)) {
		o->status = "its section headers cannot be read";
		goto out;
	}
	bidlen = elf_build_id(fd, sh, eh.e_shnum, bid);
	if (bidlen != o->bidlen || memcmp(bid, o->bytes, bidlen)) {
		o->status = "the build id of the file on this machine differs";
		goto out;
	}
	o->sym = sym_load(fd, &eh, sh);
out:
	free(sh);
	close(fd);
}

/* The function holding ELF address a, or NULL. */
static const char *sym_find(const struct sym_table *t, uint64_t a)
{
	const char *best = NULL;
	uint64_t best_lo = 0;

	if (!t || !t->v)
		return NULL;
	/* The last symbol starting at or below a, and its aliases before it. */
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && i + 64 >= lo;)
		if (t->v[i].lo <= a && a < t->v[i].hi && (!best || t->v[i].lo > best_lo)) {
			best = t->str + t->v[i].name;
			best_lo = t->v[i].lo;
		}
	return best;
}

static void a2l_argv_free(char **argv, size_t n)
{
	for (size_t i = 0; argv && i < n; i++)
		free(argv[3 + i]);
	free(argv);
}

/* "addr2line -e path" and n addresses, for execvp; NULL when out of
 * memory. */
static char **a2l_argv(const char *path, const uint64_t *a, size_t n)
{
	char **argv = calloc(n + 4, sizeof(*argv));

	if (!argv)
		return NULL;
	argv[0] = "addr2line";
	argv[1] = "-e";
	argv[2] = (char *)path;
	for (size_t i = 0; i < n; i++) {
		argv[3 + i] = malloc(24);
		if (!argv[3 + i]) {
			a2l_argv_free(argv, n);
			return NULL;
		}
		snprintf(argv[3 + i], 24, "0x%" PRIx64, a[i]);
	}
	return argv;
}

/* Runs argv, its output into a pipe, its input and errors from and to
 * /dev/null: what it wrote (up to SYM_MAX_OUT bytes, a string, malloc'd)
 * when it exits 0, else NULL. */
static char *a2l_run(char **argv)
{
	char *buf;
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(pfd[1], 1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		execvp("addr2line", argv);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return NULL;
	}
	buf = malloc(SYM_MAX_OUT + 1);
	for (ssize_t r; buf && len < SYM_MAX_OUT; len += (size_t)r) {
		r = read(pfd[0], buf + len, SYM_MAX_OUT - len);
		if (r < 0 && errno == EINTR)
			r = 0;
		else if (r <= 0)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (!buf || !WIFEXITED(status) || WEXITSTATUS(status)) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* addr2line -e path on n addresses: a "file:line" (malloc'd) or NULL for
 * each into out.  Quietly nothing when addr2line is missing or fails. */
static void addr2line(const char *path, const uint64_t *a, size_t n, char **out)
{
	char **argv = a2l_argv(path, a, n);
	char *buf = argv ? a2l_run(argv) : NULL;
	size_t k = 0;

	for (char *line = buf, *nl; buf && k < n && (nl = strchr(line, '\n'));
	     line = nl + 1, k++) {
		char *d = strstr(line, " (discriminator");
		*nl = '\0';
		if (d)
			*d = '\0';
		if (line[0] != '?' && strchr(line, ':') && !strstr(line, ":0") &&
		    !strstr(line, ":?"))
			out[k] = strdup(line);
	}
	a2l_argv_free(argv, n);
	free(buf);
}

/* ---- once the trace is read ---- */

/* Steps (*pid, *image) to the parent's, whose sites and objects a fork
 * child names; 0, or -ENOENT when the parent is not known. */
static int key_parent(struct rp *rp, int32_t *pid, uint32_t *image)
{
	struct tr_proc *p = proc_find(&rp->ps, *pid);

	if (!p || p->parent <= 0 || p->parent > INT32_MAX)
		return -ENOENT;
	*pid = (int32_t)p->parent;
	*image = p->parent_image;
	return 0;
}

/* The definition of st's site: itself when its SITE record was seen, or
 * the parent's (a fork child names its parent's sites); 0: none. */
static uint32_t site_def(struct rp *rp, const struct rp_site *st)
{
	int32_t pid = st->pid;
	uint32_t image = st->image, i;

	for (int gen = 0; gen < RP_PARENTS; gen++) {
		i = key_find(&rp->site_keys, pid, image, st->id);
		if (i && rp->sites[i - 1].nframes >= 0)
			return i;
		if (key_parent(rp, &pid, &image))
			break;
	}
	return 0;
}

/* The object id of a frame of site d, looked up as site_def() does. */
static uint32_t obj_def(struct rp *rp, const struct rp_site *d, int32_t id)
{
	int32_t pid = d->pid;
	uint32_t image = d->image, i;

	for (int gen = 0; id > 0 && gen < RP_PARENTS; gen++) {
		if ((i = key_find(&rp->obj_keys, pid, image, (uint32_t)id)))
			return i;
		if (key_parent(rp, &pid, &image))
			break;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* The frame that names the site: the first outside the runtime, libc and
 * ld.so (the mmap wrapper, malloc), as the exit report picks. */
static int site_name_frame(const struct rp *rp, const struct rp_site *d)
{
	for (int k = 0; k < d->nframes; k++) {
		const char *b;
		if (!d->fr[k].objx)
			return k;
		b = base_name(obj_path(&rp->objs[d->fr[k].objx - 1]));
		if (strncmp(b, "libnumashadow.so", 16) && strncmp(b, "libc.so", 7) &&
		    strncmp(b, "ld-linux", 8) && strncmp(b, "linux-vdso", 10))
			return k;
	}
	return 0;
}

/* Function and line of every frame of the listed sites, an object's file
 * read once, addr2line run once per object. */
static void sites_symbolize(struct rp *rp, const uint32_t *list, size_t n)
{
	uint64_t *addr = malloc(n * NS_TRACE_DEPTH * sizeof(*addr));
	struct rp_frame **fr = malloc(n * NS_TRACE_DEPTH * sizeof(*fr));
	char **lines = calloc(n * NS_TRACE_DEPTH, sizeof(*lines));

	if (!addr || !fr || !lines)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct rp_site *d = &rp->sites[list[i]];
		for (int k = 0; k < d->nframes; k++)
			if (d->fr[k].obj > 0 && (d->fr[k].objx = obj_def(rp, d, d->fr[k].obj))) {
				struct rp_obj *o = &rp->objs[d->fr[k].objx - 1];
				if (!o->sym && !o->status)
					obj_open(o);
			}
		d->name = site_name_frame(rp, d);
	}
	for (size_t oi = 0; oi < rp->nobjs; oi++) {
		struct rp_obj *o = &rp->objs[oi];
		size_t m = 0;

		if (!o->sym)
			continue;
		for (size_t i = 0; i < n; i++) {
			struct rp_site *d = &rp->sites[list[i]];
			for (int k = 0; k < d->nframes; k++) {
				struct rp_frame *f = &d->fr[k];
				/* A return address: the call is the byte before. */
				uint64_t a = f->off ? f->off - 1 : 0;
				const char *fn;
				if (f->objx != oi + 1 || f->func)
					continue;
				if ((fn = sym_find(o->sym, a)))
					f->func = strdup(fn);
				addr[m] = a;
				fr[m++] = f;
			}
		}
		if (m && ((struct sym_table *)o->sym)->debug) {
			memset(lines, 0, m * sizeof(*lines));
			addr2line(obj_path(o), addr, m, lines);
			for (size_t j = 0; j < m; j++)
				if (!fr[j]->line)
					fr[j]->line = lines[j];
				else
					free(lines[j]);
		}
	}
out:
	free(addr);
	free(fr);
	free(lines);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Indices of the n sites (definitions) with most pages by key, into top. */
static size_t sites_top(const struct rp *rp, int migrated, size_t *top, size_t n)
{
	uint64_t val[RP_TOP_MAX];
	size_t k = 0;

	for (size_t i = 0; i < rp->nsites; i++) {
		const struct rp_site *d = &rp->sites[i];
		uint64_t v = migrated ? d->migrated : d->placed_total;

		if (d->def == i + 1 && v)
			k = top_insert(top, val, k, n, i, v);
	}
	return k;
}

void rs_finish(struct rp *rp, struct rp_sum *s)
{
	uint32_t list[2 * RP_TOP_SITES];
	size_t nl = 0;

	/* Each site's pages go to its definition (a fork child's FAULT
	 * records name its parent's sites); one never defined stands alone. */
	for (size_t i = 0; i < rp->nsites; i++) {
		struct rp_site *st = &rp->sites[i];
		uint32_t d = site_def(rp, st);

		st->def = d ? d : (uint32_t)i + 1;
		s->ndefs += st->nframes >= 0;
		if (st->def == i + 1)
			continue;
		for (int n = 0; n <= TR_KERNEL; n++) {
			rp->sites[st->def - 1].placed[n] += st->placed[n];
			st->placed[n] = 0;
		}
		rp->sites[st->def - 1].placed_total += st->placed_total;
		st->placed_total = 0;
	}
	/* Pages migrated: those of the mappings the site's pages filled. */
	for (size_t i = 0; i < rp->nstats; i++)
		if (rp->stats[i].site)
			rp->sites[rp->sites[rp->stats[i].site - 1].def - 1].migrated +=
				rp->stats[i].migrated;
	for (int k = 0; k < 2; k++) {
		s->nstop[k] = sites_top(rp, k, s->stop[k], RP_TOP_SITES);
		for (size_t i = 0; i < s->nstop[k]; i++) {
			size_t j;
			for (j = 0; j < nl && list[j] != s->stop[k][i]; j++)
				;
			if (j == nl)
				list[nl++] = (uint32_t)s->stop[k][i];
		}
	}
	sites_symbolize(rp, list, nl);
	if (rp->nlat) {
		qsort(rp->lat, rp->nlat, sizeof(*rp->lat), u64_cmp);
		/* Nearest rank: the smallest value with at least p% at or below. */
		const int pct[3] = { 50, 90, 99 };
		for (int i = 0; i < 3; i++)
			s->lat[i] = rp->lat[(rp->nlat * (size_t)pct[i] + 99) / 100 - 1];
		s->lat[3] = rp->lat[rp->nlat - 1];
	}
}

/* ---- printing ---- */

void rs_site_name(char *buf, size_t size, const struct rp *rp, const struct rp_site *d)
{
	const struct rp_frame *f = &d->fr[d->name];
	const struct rp_obj *o = f->objx ? &rp->objs[f->objx - 1] : NULL;

	if (d->nframes < 0)
		snprintf(buf, size, "site %u of pid %d (not named: its records were lost)",
			 d->id, d->pid);
	else if (!d->nframes || f->obj <= 0)
		snprintf(buf, size, "0x%" PRIx64 " (no object known)", f->ip);
	else if (!o)
		snprintf(buf, size, "0x%" PRIx64 " (object %d: not named in the trace)", f->ip,
			 f->obj);
	else if (!obj_whole(o))
		snprintf(buf, size, "object %d+0x%" PRIx64 " (%s)", f->obj, f->off, o->status);
	else if (o->status)
		snprintf(buf, size, "%s+0x%" PRIx64 " (%s)", base_name(obj_path(o)), f->off,
			 o->status);
	else
		snprintf(buf, size, "%s (%s+0x%" PRIx64 "%s%s)", f->func ? f->func : "?",
			 base_name(obj_path(o)), f->off, f->line ? ", " : "",
			 f->line ? base_name(f->line) : "");
	/* Paths and names come from the trace and the files: no control
	 * character reaches a terminal. */
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

void rs_text_failed(FILE *f, const struct rp *rp)
{
	uint64_t pages = 0;
	const char *sep = "";

	for (int i = 0; i < RP_FAIL_CLASSES; i++)
		pages += rp->fail[i];
	fprintf(f, "  %-11s %" PRIu64 " pages, by error: ", "failed:", pages);
	for (int i = 0; i < RP_FAIL_CLASSES; i++)
		if (rp->fail[i]) {
			fprintf(f, "%s%s:%" PRIu64, sep, fail_names[i], rp->fail[i]);
			sep = " ";
		}
	fprintf(f, "%s; move_pages itself failed in %" PRIu64 " calls\n", *sep ? "" : "-",
		rp->calls_failed);
}

void rs_us(char *buf, size_t size, uint64_t ns)
{
	if (ns < 1000000)
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 " us", ns / 1000, ns / 100 % 10);
	else
		snprintf(buf, size, "%" PRIu64 ".%03" PRIu64 " ms", ns / 1000000,
			 ns / 1000 % 1000);
}

void rs_text_latency(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	static const char *const name[4] = { "p50", "p90", "p99", "max" };
	char us[32];

	fprintf(f, "migration latency: %" PRIu64 " migrate calls", rp->lat_calls);
	for (int i = 0; rp->nlat && i < 4; i++) {
		rs_us(us, sizeof(us), s->lat[i]);
		fprintf(f, ", %s %s", name[i], us);
	}
	if (rp->nlat)
		fputs(" (each call, from collecting its pages to settling them)", f);
	fputc('\n', f);
	if (rp->lat_skipped)
		fprintf(f, "  cap hit: %u durations kept, %" PRIu64 " past it not in the "
			"percentiles\n", RP_MAX_LAT, rp->lat_skipped);
}

void rs_text_sites(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	char name[512], nodes[NODES_BUF];

	fprintf(f, "call sites: %zu named (distinct stacks of the mmap calls a policy "
		"placed); pages placed at no known site: %" PRIu64 "\n", s->ndefs,
		rp->un_site_placed);
	for (int k = 0; k < 2; k++) {
		fprintf(f, "top call sites by pages %s:\n", k ? "migrated" : "placed");
		for (size_t i = 0; i < s->nstop[k]; i++) {
			const struct rp_site *d = &rp->sites[s->stop[k][i]];
			rs_site_name(name, sizeof(name), rp, d);
			nodes_format(nodes, sizeof(nodes), d->placed, TR_NODES + 1, 0);
			fprintf(f, "  %s, pid %d: %" PRIu64 " placed (%s), %" PRIu64 " migrated\n",
				name, d->pid, d->placed_total, nodes, d->migrated);
		}
		if (!s->nstop[k])
			fputs("  none\n", f);
	}
	if (rp->sites_skipped || rp->objs_skipped)
		fprintf(f, "  cap hit: sites or objects beyond %u not followed\n", RP_MAX_SITES);
}

void rs_json_failed(FILE *f, const struct rp *rp)
{
	uint64_t pages = 0;
	const char *sep = "";

	for (int i = 0; i < RP_FAIL_CLASSES; i++)
		pages += rp->fail[i];
	fprintf(f, "{\"pages\":%" PRIu64 ",\"by_error\":{", pages);
	for (int i = 0; i < RP_FAIL_CLASSES; i++)
		if (rp->fail[i]) {
			fprintf(f, "%s\"%s\":%" PRIu64, sep, fail_names[i], rp->fail[i]);
			sep = ",";
		}
	fprintf(f, "},\"calls_failed\":%" PRIu64 "}", rp->calls_failed);
}

void rs_json_latency(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	fprintf(f, "{\"calls\":%" PRIu64 ",\"samples\":%zu", rp->lat_calls, rp->nlat);
	if (rp->nlat)
		fprintf(f, ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
			",\"max\":%" PRIu64, s->lat[0], s->lat[1], s->lat[2], s->lat[3]);
	else
		fputs(",\"p50\":null,\"p90\":null,\"p99\":null,\"max\":null", f);
	fprintf(f, ",\"cap\":%u,\"cap_hit\":%s}", RP_MAX_LAT, rp->lat_skipped ? "true" : "false");
}

static void json_or_null(FILE *f, const char *s)
{
	if (s)
		json_string(f, s);
	else
		fputs("null", f);
}

static void json_frame(FILE *f, const struct rp *rp, const struct rp_frame *fr)
{
	const struct rp_obj *o = fr->objx ? &rp->objs[fr->objx - 1] : NULL;

	fprintf(f, "{\"addr\":\"0x%" PRIx64 "\",\"offset\":\"0x%" PRIx64 "\",\"object\":",
		fr->ip, fr->off);
	json_or_null(f, o ? obj_path(o) : NULL);
	fputs(",\"build_id\":", f);
	if (o && o->bidlen) {
		fputc('"', f);
		for (uint32_t i = 0; i < o->bidlen; i++)
			fprintf(f, "%02x", o->bytes[i]);
		fputc('"', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"function\":", f);
	json_or_null(f, fr->func);
	fputs(",\"file_line\":", f);
	json_or_null(f, fr->line);
	fputs(",\"status\":", f);
	json_or_null(f, o ? o->status : fr->obj > 0 ? "object not named in the trace"
						    : "no object known");
	fputc('}', f);
}

static void json_site(FILE *f, const struct rp *rp, const struct rp_site *d)
{
	const struct rp_frame *n = &d->fr[d->name];
	const char *sep = "";

	fprintf(f, "{\"pid\":%d,\"id\":%u,\"named\":%s,\"function\":", d->pid, d->id,
		d->nframes >= 0 ? "true" : "false");
	json_or_null(f, d->nframes > 0 ? n->func : NULL);
	fputs(",\"file_line\":", f);
	json_or_null(f, d->nframes > 0 ? n->line : NULL);
	fputs(",\"placed\":{", f);
	for (int i = 0; i <= TR_KERNEL; i++)
		if (d->placed[i]) {
			if (i == TR_KERNEL)
				fprintf(f, "%s\"kernel\":%" PRIu64, sep, d->placed[i]);
			else
				fprintf(f, "%s\"%d\":%" PRIu64, sep, i, d->placed[i]);
			sep = ",";
		}
	fprintf(f, "},\"placed_total\":%" PRIu64 ",\"migrated\":%" PRIu64 ",\"name_frame\":%d,"
		"\"frames\":[", d->placed_total, d->migrated, d->name);
	for (int k = 0; k < d->nframes; k++) {
		if (k)
			fputc(',', f);
		json_frame(f, rp, &d->fr[k]);
	}
	fputs("]}", f);
}

void rs_json_sites(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	fprintf(f, "{\"named\":%zu,\"unknown_placed\":%" PRIu64 ",\"cap\":%u,\"cap_hit\":%s,"
		"\"top_placed\":[", s->ndefs, rp->un_site_placed, RP_MAX_SITES,
		rp->sites_skipped || rp->objs_skipped ? "true" : "false");
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < s->nstop[k]; i++) {
			if (i)
				fputc(',', f);
			json_site(f, rp, &rp->sites[s->stop[k][i]]);
		}
		fputs(k ? "]}" : "],\"top_migrated\":[", f);
	}
}
