/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * QEMU's migration state on hostile input: the input is split at form feeds
 * into query-migrate answers (fed one a second to the pass tracker), and the
 * last two parts are also read as query-migrate-parameters and
 * query-migrate-capabilities; each part is also read as libvirt's job
 * statistics and fed just after.  No crash; the verdict's figures are -1 or
 * finite and not negative, and the pass ring stays within its bound.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/migrate.h"
#include "parse/migparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct mig_track t;
	mig_track_init(&t);
	json_t *last2[2] = { NULL, NULL };
	uint64_t now = 1000000000ull;
	for (unsigned n = 0; n < 64 && p <= end; n++) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		size_t len = ff ? (size_t)(ff - p) : (size_t)(end - p);
		json_t *j = json_loadb(p, len, JSON_DECODE_ANY, NULL);
		struct mig_info mi;
		if (mig_parse(j, &mi) == 0) {
			if (mi.status_name[sizeof(mi.status_name) - 1] != '\0' || mi.page_size < 512)
				abort();
			mig_track_feed(&t, &mi, now);
		}
		/* an answer at the same time again, and one from before, are ignored */
		mig_track_feed(&t, &mi, now);
		/* the same bytes as libvirt's job statistics (virsh domjobinfo --rawstats) */
		struct mig_info lv;
		if (mig_parse_libvirt(p, len, &lv) == 0) {
			if (lv.status_name[sizeof(lv.status_name) - 1] != '\0' ||
			    lv.error_desc[sizeof(lv.error_desc) - 1] != '\0' || lv.page_size < 512 ||
			    (lv.cpu_throttle_pct != -1 && (lv.cpu_throttle_pct < 0 || lv.cpu_throttle_pct > 100)))
				abort();
			mig_track_feed(&t, &lv, now + 1);
		}
		now += (n % 3 == 2) ? 250000000ull : 1000000000ull;
		json_decref(last2[0]);
		last2[0] = last2[1];
		last2[1] = j;
		if (!ff)
			break;
		p = ff + 1;
	}
	struct mig_params mp;
	mig_params_init(&mp);
	mig_params_parse(last2[0], &mp);
	mig_caps_parse(last2[1], &mp);
	if (mp.auto_converge < -1 || mp.auto_converge > 1)
		abort();
	json_decref(last2[0]);
	json_decref(last2[1]);
	if (t.npass > MIG_MAX_PASSES)
		abort();
	for (unsigned k = 1; k <= 4; k++) {
		struct mig_verdict v;
		mig_track_verdict(&t, k, &v);
		if (!(v.dirty_pct == -1 || (isfinite(v.dirty_pct) && v.dirty_pct >= 0)))
			abort();
		if (!(v.kept_pct == -1 || (isfinite(v.kept_pct) && v.kept_pct >= 0)))
			abort();
	}
	for (unsigned i = 0; i < t.npass; i++) {
		double s = mig_pass_throughput(mig_track_pass(&t, i));
		if (!(s == -1 || (isfinite(s) && s >= 0)))
			abort();
	}
	return 0;
}
