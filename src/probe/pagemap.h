/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Parsers for the dirty-page probe: /proc/PID/maps lines and
 * /proc/PID/pagemap entries (one little-endian u64 per page: bit 55
 * soft-dirty, 56 exclusive, 57 uffd-wp, 61 file/shared, 62 swapped,
 * 63 present; Documentation/admin-guide/mm/pagemap.rst).  Both take raw
 * bytes and a length, never read past it, and are fuzzed.
 */
#ifndef HQ_PROBE_PAGEMAP_H
#define HQ_PROBE_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_SOFT_DIRTY (1ull << 55)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_UFFD_WP (1ull << 57)
#define PM_FILE (1ull << 61)
#define PM_SWAPPED (1ull << 62)
#define PM_PRESENT (1ull << 63)

struct vma {
	uint64_t start, end;
	bool r, w, x, shared;
	uint64_t inode;
	char name[64];		/* path or [heap], [stack]...; truncated */
};

/* One line of /proc/PID/maps; 0 or -EINVAL. */
int maps_parse_line(const char *ls, const char *le, struct vma *v);
/* Whether the dirty probe tracks this mapping: private, writable, not a
 * special kernel mapping ([vvar], [vsyscall], [vdso]). */
bool vma_tracked(const struct vma *v);

struct pm_count {
	uint64_t entries, present, swapped, soft_dirty, uffd_wp, exclusive, file;
	uint64_t partial_bytes;	/* trailing bytes that were not a whole entry */
};

/* Count the flags of the whole entries in buf (added to *c). */
void pagemap_count(const uint8_t *buf, size_t len, struct pm_count *c);
/* A page that was written since clear_refs: soft-dirty and present or swapped. */
static inline bool pm_dirty(uint64_t e)
{
	return (e & PM_SOFT_DIRTY) && (e & (PM_PRESENT | PM_SWAPPED));
}

/*
 * Soft-dirty self-test verdict from the entries of one page of ours read
 * after clear_refs ("4") and after a write to it.  0 works; -1 the kernel
 * lacks it (bit 55 never set: CONFIG_MEM_SOFT_DIRTY off, and the write to
 * clear_refs still succeeds); -2 clear_refs did not clear it.
 */
int softdirty_verdict(uint64_t after_clear, uint64_t after_write);

#endif
