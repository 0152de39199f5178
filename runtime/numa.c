/* SPDX-License-Identifier: MIT */
/*
 * numa.c - what the runtime needs to know of the machine's NUMA layout and
 * of its own rights, read from the kernel once and kept: the online nodes,
 * the node of each CPU, CAP_SYS_NICE.
 *
 * No locks: each table is written once, by the thread that first needs it
 * (the CPU table before the monitor thread that reads it is started), and
 * a fork child keeps its parent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include "internal.h"
#include "sys.h"

static uint64_t online_mask;	/* bit n: node n is online */
static int topology_read;

/* Calls set(n, arg) for each number of a kernel list ("0", "0-3,5");
 * returns the number of characters read. */
int numa_parse_ranges(const char *s, void (*set)(unsigned n, void *arg),
		      void *arg)
{
	const char *start = s;

	while (*s >= '0' && *s <= '9') {
		unsigned a = 0, b;
		while (*s >= '0' && *s <= '9')
			a = a * 10 + (unsigned)(*s++ - '0');
		b = a;
		if (*s == '-') {
			s++;
			b = 0;
			while (*s >= '0' && *s <= '9')
				b = b * 10 + (unsigned)(*s++ - '0');
		}
		for (unsigned n = a; n <= b && n < 4096; n++)
			set(n, arg);
		if (*s == ',')
			s++;
	}
	return (int)(s - start);
}

static void set_bit(unsigned n, void *arg)
{
	if (n < 64)
		*(uint64_t *)arg |= 1ULL << n;
}

/* Parses a kernel node list ("0", "0-1,3") into a mask of nodes < 64. */
uint64_t numa_parse_list(const char *s)
{
	uint64_t mask = 0;

	numa_parse_ranges(s, set_bit, &mask);
	return mask;
}

/* Returns the mask of online nodes (node 0 alone when sysfs says nothing). */
uint64_t numa_online(void)
{
	char buf[256];
	long fd, n;

	if (topology_read)
		return online_mask;
	online_mask = 1;
	fd = sys_open("/sys/devices/system/node/online", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = sys_read((int)fd, buf, sizeof(buf) - 1);
		sys_close((int)fd);
		if (n > 0) {
			buf[n] = 0;
			if (numa_parse_list(buf))
				online_mask = numa_parse_list(buf);
		}
	}
	topology_read = 1;
	return online_mask;
}

bool numa_node_online(int node)
{
	return node >= 0 && node < 64 && (numa_online() >> node) & 1;
}

static int cpu_node[1024] NS_BIG;	/* node of each CPU, -1 unknown */
static int cpu_node_of;	/* the node whose cpulist is being read */
static int cpu_nodes_known;	/* cpu_node[] read, once per image */

static void set_cpu_node(unsigned cpu, void *unused)
{
	(void)unused;
	if (cpu < 1024)
		cpu_node[cpu] = cpu_node_of;
}

/* Reads the node of each CPU from sysfs, once per image: a fork child has
 * the parent's table. */
void numa_cpu_nodes_read(void)
{
	char path[64], buf[512];

	if (cpu_nodes_known)
		return;
	for (int c = 0; c < 1024; c++)
		cpu_node[c] = -1;
	for (int n = 0; n < 64; n++) {
		if (!numa_node_online(n))
			continue;
		ns_fmt(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		long fd = sys_open(path, O_RDONLY | O_CLOEXEC), len;
		if (fd < 0)
			continue;
		len = sys_read((int)fd, buf, sizeof(buf) - 1);
		sys_close((int)fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		cpu_node_of = n;
		numa_parse_ranges(buf, set_cpu_node, NULL);
	}
	cpu_nodes_known = 1;
}

/* Returns the node of CPU cpu, -1 when unknown (numa_cpu_nodes_read() not
 * called yet, or a CPU sysfs does not list). */
int numa_cpu_node(int64_t cpu)
{
	return cpu >= 0 && cpu < 1024 ? cpu_node[cpu] : -1;
}

/* May this process move pages other processes map (MPOL_MF_MOVE_ALL)? */
bool numa_can_move_all(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (sys_capget(&h, d) < 0)
		return false;
	return d[CAP_SYS_NICE / 32].effective & (1U << (CAP_SYS_NICE % 32));
}
