/* SPDX-License-Identifier: MIT */
/*
 * log.c - formatting and logging without libc's stdio, at the bottom of
 * the runtime: every other file may call it, it calls only sys.c.
 * ns_fmt() is a small snprintf (no allocation, no locale, safe in a
 * signal handler); ns_log() writes one whole line "numashadow: ..." with
 * one write(2) to the log - stderr, or the --log file - and never to a
 * descriptor the program has reused.  No lock: a line is one write.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "internal.h"
#include "sys.h"

static char *put_num(char *p, char *end, uint64_t v, int base, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % (uint64_t)base];
		v /= (uint64_t)base;
	} while (v);
	if (neg && p < end)
		*p++ = '-';
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

int ns_vfmt(char *buf, size_t size, const char *f, va_list ap)
{
	char *p = buf, *end = buf + size - 1;

	for (; *f && p < end; f++) {
		bool alt = false, lng = false;
		if (*f != '%') {
			*p++ = *f;
			continue;
		}
		f++;
		if (*f == '#')
			alt = true, f++;
		while (*f == 'l' || *f == 'z')
			lng = true, f++;
		switch (*f) {
		case 'd':
		case 'i': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			p = put_num(p, end, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			p = put_num(p, end, lng ? va_arg(ap, unsigned long)
					       : va_arg(ap, unsigned), 10, false);
			break;
		case 'x':
		case 'p': {
			uint64_t v = *f == 'p' ? (uint64_t)va_arg(ap, void *)
			    : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			if ((alt || *f == 'p') && p + 2 < end)
				*p++ = '0', *p++ = 'x';
			p = put_num(p, end, v, 16, false);
			break;
		}
		case 's':
			for (const char *s = va_arg(ap, const char *); s && *s && p < end;)
				*p++ = *s++;
			break;
		case 'c':
			*p++ = (char)va_arg(ap, int);
			break;
		default:
			*p++ = *f;
		}
	}
	*p = 0;
	return (int)(p - buf);
}

/* snprintf for the runtime: %d %i %u %x %p %s %c with # and l; returns the
 * length written. */
int ns_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ns_vfmt(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

static int log_fd = 2;			/* stderr unless NUMASHADOW_LOG */
static uint64_t log_dev, log_ino;	/* what log_fd was opened on */
static uint64_t err_dev, err_ino;	/* what fd 2 was at start-up */

/* Diagnostics go to fd from now on (start-up: 2, or the --log file). */
void ns_log_set_fd(int fd)
{
	struct stat st;

	log_fd = fd;
	if (sys_fstat(fd, &st) == 0) {
		log_dev = st.st_dev;
		log_ino = st.st_ino;
	}
	if (fd == 2) {
		err_dev = log_dev;
		err_ino = log_ino;
	}
}

/* One line "numashadow: ..." to the log (stderr unless NUMASHADOW_LOG).
 * The descriptor must still be the file it was: a program that closed it
 * (coreutils close stderr at exit) and opened a file of its own at that
 * number gets nothing of ours in it.  A log file that went falls back to
 * stderr; a stderr that went takes the line with it. */
/* Writes buf[0, n), one whole line, to the log (see ns_log). */
void ns_log_write(const char *buf, int n)
{
	struct stat st;
	int fd = log_fd;

	if (sys_fstat(fd, &st) < 0 || st.st_dev != log_dev || st.st_ino != log_ino) {
		if (fd == 2 || sys_fstat(2, &st) < 0 || st.st_dev != err_dev ||
		    st.st_ino != err_ino)
			return;
		fd = 2;
	}
	sys_write(fd, buf, (size_t)n);
}

void ns_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = ns_fmt(buf, sizeof(buf), "numashadow: ");

	va_start(ap, fmt);
	n += ns_vfmt(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	ns_log_write(buf, n);
}
