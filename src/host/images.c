/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* The disk images under a VM: chains, where each layer lives, qemu-img check (see images.h). */
#include "images.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../core/util.h"
#include "../parse/imghdr.h"
#include "../parse/vmconf.h"
#include "../sys/proc_run.h"
#include "vmscan.h"

/* statfs f_type magics (include/uapi/linux/magic.h and the filesystems' own headers) */
static const struct {
	long magic;
	const char *name;
	bool network;
} fstypes[] = {
	{ 0xEF53, "ext4", false },	    { 0x58465342, "xfs", false },	  { 0x9123683E, "btrfs", false },
	{ 0x01021994, "tmpfs", false },	    { 0x858458f6, "ramfs", false },	  { 0x794c7630, "overlay", false },
	{ 0x2fc12fc1, "zfs", false },	    { 0xF2F52010, "f2fs", false },	  { 0x73717368, "squashfs", false },
	{ 0x3434, "nilfs2", false },	    { 0x01161970, "gfs2", false },	  { 0x7461636f, "ocfs2", false },
	{ 0x6969, "nfs", true },	    { 0xFF534D42, "cifs", true },	  { 0xFE534D42, "smb2", true },
	{ 0x00c36400, "ceph", true },	    { 0x65735546, "fuse", true },	  { 0x517B, "smb", true },
	{ 0x47504653, "gpfs", true },	    { 0x0BD00BD0, "lustre", true },	  { 0x19830326, "fhgfs", true },
};

static void fs_of(int fd, struct img_layer *l)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(fstypes); i++)
		if ((unsigned long)sf.f_type == (unsigned long)fstypes[i].magic) {
			str_copy(l->fs, sizeof(l->fs), fstypes[i].name);
			l->network = fstypes[i].network;
			return;
		}
	snprintf(l->fs, sizeof(l->fs), "0x%lx", (unsigned long)sf.f_type);
}

/* The path of `file` under the root, as process pid sees it. */
static void rel_of(char *rel, size_t n, int pid, const char *file)
{
	if (file[0] == '/')
		snprintf(rel, n, "%s", file + 1);
	else if (pid > 0)
		snprintf(rel, n, "proc/%d/cwd/%s", pid, file);
	else
		snprintf(rel, n, "%s", file);
}

static bool local_file(const char *f)
{
	/* protocols (nbd:, rbd:, iscsi://, json:{...}) and passed fds are not files we can read */
	return f[0] && !(strchr(f, ':') && f[0] != '/') && strncmp(f, "/dev/fdset/", 11) != 0;
}

unsigned image_chain(const struct fsroot *root, int pid, const char *file, const char *fmt, struct img_chain *out,
		     char *why, size_t wn)
{
	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (!local_file(file)) {
		snprintf(why, wn, "not a local file (%.100s)", file);
		return 0;
	}
	out->layer = xcalloc(IMG_MAX_CHAIN, sizeof(*out->layer));
	char path[512], want[16], rel[640];
	str_copy(path, sizeof(path), file);
	str_copy(want, sizeof(want), fmt ? fmt : "");
	uint8_t *buf = xmalloc(IMGHDR_READ);
	for (;;) {
		if (out->n == IMG_MAX_CHAIN) {
			out->truncated = true;
			break;
		}
		struct img_layer *l = &out->layer[out->n++];
		str_copy(l->file, sizeof(l->file), path);
		if (!local_file(path)) {
			snprintf(l->err, sizeof(l->err), "not a local file");
			break;
		}
		rel_of(rel, sizeof(rel), pid, path);
		int fd = fsroot_open(root, rel);
		if (fd < 0) {
			snprintf(l->err, sizeof(l->err), "cannot open: %s", strerror(-fd));
			break;
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
			snprintf(l->err, sizeof(l->err), "not a regular file or block device");
			close(fd);
			break;
		}
		fs_of(fd, l);
		if (S_ISBLK(st.st_mode))
			str_copy(l->fs, sizeof(l->fs), "block device");
		if (path[0] == '/' || pid > 0) {
			struct vm_backing b = { 0 };
			if (vmscan_backing(root, pid, path, &b) == 0) {
				str_copy(l->dev, sizeof(l->dev), b.dev);
				str_copy(l->disk, sizeof(l->disk), b.disk);
			}
		}
		/* a configured raw image is never read for a header: its bytes are the guest's */
		if (want[0] && strcmp(want, "qcow2") != 0) {
			str_copy(l->format, sizeof(l->format), want);
			if (S_ISREG(st.st_mode) && strcmp(want, "raw") == 0)
				l->virtual_size = (uint64_t)st.st_size;
			close(fd);
			break;
		}
		ssize_t got = pread(fd, buf, IMGHDR_READ, 0);
		close(fd);
		if (got < 0) {
			snprintf(l->err, sizeof(l->err), "cannot read: %s", strerror(errno));
			break;
		}
		struct img_header h;
		int r = imghdr_parse(buf, (size_t)got, &h);
		str_copy(l->format, sizeof(l->format), h.format);
		if (r < 0) {
			snprintf(l->err, sizeof(l->err), "%s", h.why);
			break;
		}
		if (want[0] && strcmp(h.format, want) != 0) {
			snprintf(l->err, sizeof(l->err), "configured as %s, but its header says %s", want, h.format);
			break;
		}
		if (strcmp(h.format, "raw") == 0 && S_ISREG(st.st_mode))
			l->virtual_size = (uint64_t)st.st_size;
		if (strcmp(h.format, "qcow2") != 0)
			break; /* other formats' backing files are not read */
		l->virtual_size = h.virtual_size;
		l->cluster_kib = (1u << h.cluster_bits) / 1024;
		l->dirty = h.dirty;
		l->corrupt = h.corrupt;
		l->encrypted = h.encrypted;
		str_copy(l->data_file, sizeof(l->data_file), h.data_file);
		if (!h.backing[0])
			break;
		/* the next layer: relative names are relative to this image's directory */
		char next[1600];
		const char *slash = strrchr(path, '/');
		if (h.backing[0] == '/' || !slash || !local_file(h.backing))
			str_copy(next, sizeof(next), h.backing);
		else
			snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - path), path, h.backing);
		if (strlen(next) >= sizeof(path)) {
			snprintf(l->err, sizeof(l->err), "its backing file's path is longer than %zu bytes", sizeof(path) - 1);
			break;
		}
		bool seen = false;
		for (unsigned k = 0; k < out->n; k++)
			seen |= strcmp(out->layer[k].file, next) == 0;
		if (seen) {
			out->loop = true;
			snprintf(l->err, sizeof(l->err), "its backing file %.100s is a layer above it: a loop", next);
			break;
		}
		str_copy(path, sizeof(path), next);
		str_copy(want, sizeof(want), h.backing_fmt);
	}
	free(buf);
	return out->n;
}

/* ---- qemu-img check ---- */

bool image_check_available(char *path, size_t n)
{
	const char *env = getenv("HIDDENQ_QEMU_IMG");
	if (env && *env) {
		str_copy(path, n, access(env, X_OK) == 0 ? env : "");
		return path[0] != '\0';
	}
	const char *p = getenv("PATH");
	char dirs[4096];
	str_copy(dirs, sizeof(dirs), p && *p ? p : "/usr/local/bin:/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, n, "%s/qemu-img", d);
		if (access(path, X_OK) == 0)
			return true;
	}
	path[0] = '\0';
	return false;
}

/* qemu-img leaves out a count that is 0 (corruptions, leaks): absent from its answer is none */
static long long jll(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

void image_check(const char *qemu_img, const char *file, const char *fmt, int timeout_ms, struct img_check *out)
{
	memset(out, 0, sizeof(*out));
	out->rc = -1;
	out->corruptions = out->leaks = out->check_errors = -1;
	/* no -r: qemu-img opens the image read-only and changes nothing */
	char *argv[] = { (char *)qemu_img, "check", "-f", (char *)fmt, "--output=json", (char *)file, NULL };
	struct proc_run r = { .argv = argv, .timeout_ms = timeout_ms, .grace_ms = 1000, .out_max = 1u << 20,
			      .err_max = 4096 };
	int rc = proc_run(&r);
	out->rc = rc;
	if (rc < 0) {
		snprintf(out->why, sizeof(out->why), "%s", r.why);
	} else {
		json_t *j = json_loads(r.out, 0, NULL);
		if (json_is_object(j)) {
			out->corruptions = jll(j, "corruptions");
			out->leaks = jll(j, "leaks");
			out->check_errors = jll(j, "check-errors");
		}
		json_decref(j);
		/* the first line of what it said on stderr (an error, "does not support checks") */
		const char *e = r.err ? r.err : "";
		size_t l = strcspn(e, "\n");
		snprintf(out->why, sizeof(out->why), "%.*s", (int)(l < 200 ? l : 200), e);
	}
	proc_run_done(&r);
}
