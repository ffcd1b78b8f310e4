/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "memsrc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"

static void add_rel(const struct fsroot *root, struct sample *out, const char *rel, size_t max)
{
	char *data;
	size_t len;
	int r = fsroot_read(root, rel, &data, &len, max);
	if (r == 0 || r == -EFBIG)
		sample_add_take(out, rel, data, len);
}

void memsrc_nodes(const struct fsroot *root, struct sample *out, bool with_topology)
{
	int fd = fsroot_opendir(root, "sys/devices/system/node");
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	unsigned n = 0;
	char rel[320];
	while ((de = readdir(d)) && n < 1024) {
		if (strncmp(de->d_name, "node", 4) != 0 || !str_is_digits(de->d_name + 4))
			continue;
		n++;
		static const char *const hot[] = { "numastat", "meminfo" };
		static const char *const topo[] = { "cpulist", "distance" };
		for (size_t i = 0; i < ARRAY_SIZE(hot); i++) {
			snprintf(rel, sizeof(rel), "sys/devices/system/node/%s/%s", de->d_name, hot[i]);
			add_rel(root, out, rel, 1u << 20);
		}
		for (size_t i = 0; with_topology && i < ARRAY_SIZE(topo); i++) {
			snprintf(rel, sizeof(rel), "sys/devices/system/node/%s/%s", de->d_name, topo[i]);
			add_rel(root, out, rel, 1u << 20);
		}
	}
	closedir(d);
}

struct proc_rss {
	long pid;
	uint64_t rss_pages;
};

uint64_t memsrc_procs(const struct fsroot *root, struct sample *out)
{
	uint64_t t0 = mono_ns();
	int fd = fsroot_opendir(root, "proc");
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct proc_rss top[MEMSRC_TOP_PROCS];
	memset(top, 0, sizeof(top));
	struct dirent *de;
	char rel[320], buf[256];
	while ((de = readdir(d))) {
		if (!str_is_digits(de->d_name))
			continue;
		snprintf(rel, sizeof(rel), "%s/statm", de->d_name);
		int sfd = openat(fd, rel, O_RDONLY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		ssize_t n = read(sfd, buf, sizeof(buf) - 1);
		close(sfd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		unsigned long long size, rss;
		if (sscanf(buf, "%llu %llu", &size, &rss) != 2 || rss == 0)
			continue;
		long pid = strtol(de->d_name, NULL, 10);
		for (int i = 0; i < MEMSRC_TOP_PROCS; i++) {
			if (rss > top[i].rss_pages) {
				memmove(&top[i + 1], &top[i], (MEMSRC_TOP_PROCS - 1 - (size_t)i) * sizeof(top[0]));
				top[i].pid = pid;
				top[i].rss_pages = rss;
				break;
			}
		}
	}
	closedir(d);

	for (int i = 0; i < MEMSRC_TOP_PROCS && top[i].pid; i++) {
		if (mono_ns() - t0 > MEMSRC_BUDGET_NS) {
			log_warn("numa_maps scan stopped at its %llu ms budget", MEMSRC_BUDGET_NS / 1000000);
			break;
		}
		long pid = top[i].pid;
		static const char *const files[] = { "comm", "statm", "status", "smaps_rollup", "numa_maps" };
		for (size_t k = 0; k < ARRAY_SIZE(files); k++) {
			snprintf(rel, sizeof(rel), "proc/%ld/%s", pid, files[k]);
			add_rel(root, out, rel, 4u << 20);
		}
		/* where its threads ran: field 39 of each task's stat */
		snprintf(rel, sizeof(rel), "proc/%ld/task", pid);
		int tfd = fsroot_opendir(root, rel);
		if (tfd < 0)
			continue;
		DIR *td = fdopendir(tfd);
		if (!td) {
			close(tfd);
			continue;
		}
		unsigned nt = 0;
		while ((de = readdir(td)) && nt < 256) {
			if (!str_is_digits(de->d_name))
				continue;
			snprintf(rel, sizeof(rel), "proc/%ld/task/%s/stat", pid, de->d_name);
			add_rel(root, out, rel, 4096);
			nt++;
		}
		closedir(td);
	}
	return mono_ns() - t0;
}
