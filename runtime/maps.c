/* SPDX-License-Identifier: MIT */
/*
 * maps.c - read /proc/PID/maps, the kernel's list of VMAs.
 *
 * The text is read whole with raw syscalls into a static buffer (callers
 * hold the family lock), so reading it changes nothing it describes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include "internal.h"
#include "sys.h"

uint64_t ns_hex(const char **s)
{
	uint64_t v = 0;

	if ((*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X'))
		*s += 2;
	for (;; (*s)++) {
		char c = **s;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint64_t)(c - 'A' + 10);
		else
			return v;
	}
}

static uint64_t dec(const char **s)
{
	uint64_t v = 0;

	while (**s >= '0' && **s <= '9')
		v = v * 10 + (uint64_t)(*(*s)++ - '0');
	return v;
}

static bool starts(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return false;
	return true;
}

/* Returns the number of VMAs stored in out, or -errno (-E2BIG when they do
 * not fit); maps_buf holds the text meanwhile. */
/* The text of /proc/PID/maps (pid 0: our thread's) whole in maps_buf,
 * NUL-terminated; 0 or -errno (-E2BIG: it does not fit). */
static int maps_text(pid_t pid, char *maps_buf, size_t size)
{
	char path[40];
	long fd, n, len = 0;

	if (pid)
		ns_fmt(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		ns_fmt(path, sizeof(path), "/proc/thread-self/maps");
	fd = sys_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (int)fd;
	while ((size_t)len < size - 1 &&
	       (n = sys_read((int)fd, maps_buf + len, size - 1 - (size_t)len)) > 0)
		len += n;
	/* A full buffer may be a cut text: never judge from part of it. */
	if ((size_t)len == size - 1)
		n = sys_read((int)fd, maps_buf + len, 1) > 0 ? -E2BIG : 0;
	sys_close((int)fd);
	if (n < 0)
		return (int)n;
	maps_buf[len] = 0;
	return 0;
}

int maps_read(pid_t pid, struct ns_kvma *out, int max, char *maps_buf,
	      size_t size)
{
	int count = 0, r = maps_text(pid, maps_buf, size);

	if (r < 0)
		return r;

	for (const char *s = maps_buf; *s;) {
		struct ns_kvma k = { 0 };
		uint64_t maj, min;

		if (count == max)
			return -E2BIG;
		k.start = ns_hex(&s);
		s++;
		k.end = ns_hex(&s);
		s++;
		k.prot = (s[0] == 'r' ? PROT_READ : 0) |
			 (s[1] == 'w' ? PROT_WRITE : 0) |
			 (s[2] == 'x' ? PROT_EXEC : 0);
		if (s[3] == 's')
			k.flags |= NS_VMA_SHARED;
		s += 5;
		k.off = ns_hex(&s);
		s++;
		maj = ns_hex(&s);
		s++;
		min = ns_hex(&s);
		s++;
		k.ino = dec(&s);
		k.dev = k.ino ? (maj << 32 | min) : 0;
		while (*s == ' ')
			s++;
		if (starts(s, "[vdso") || starts(s, "[vvar") ||
		    starts(s, "[vsyscall]") || starts(s, "[uprobes]"))
			k.flags |= NS_KVMA_SPECIAL << 8;
		else if (starts(s, "[stack]"))
			k.flags |= NS_KVMA_STACK << 8;
		else if (starts(s, "[heap]"))
			k.flags |= NS_KVMA_HEAP << 8;
		else if (k.ino && (k.flags & NS_VMA_SHARED) &&
			 (starts(s, "/dev/zero") || starts(s, "/SYSV")))
			k.flags |= NS_KVMA_SHMANON << 8;
		while (*s && *s != '\n')
			s++;
		if (*s)
			s++;
		out[count++] = k;
	}
	return count;
}
