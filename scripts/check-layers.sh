#!/bin/sh
# check-layers.sh: every #include "..." under src/ must point at a layer its
# directory may use (docs/architecture.md, "The include rule").  Prints each
# violation as FILE: includes TARGET (LAYER may use: ...) and exits 1 if
# there is any; -v also lists the known exceptions.  Run by `make check`
# before the build, alone as scripts/check-layers.sh or make check-layers.
#
# Lower layers never include higher ones:
#   core      nothing of ours          (the sample type, JSON, paths, allocation, logging)
#   parse     core                     (the kernel's file formats into structs)
#   sys       core parse               (fsroot, identity, QMP, processes)
#   sources   core parse sys bpf       (everything that produces sample data)
#   sample    core parse sys           (the sampler, capture bundles)
#   analysis  core parse               (samples in, figures and findings out)
#   engine    core parse analysis      (the analysis over a sliding window)
#   sinks     core parse analysis engine topo sim
#                                      (text, JSON: they read data, never the machine)
#   sim       core                     (the what-if model: scenario in, results and samples out)
#   host, probe, topo (host may read topo: the audit sizes NUMA nodes as topo does)
#             core parse sys (+ analysis for host and probe, which compute findings)
#   cmd, main.c: anything
# and each directory its own files.
set -u
cd "$(dirname "$0")/.." || exit 2
verbose=0
[ "${1:-}" = -v ] && verbose=1

allowed() {	# allowed LAYER -> the layers LAYER may include
	case $1 in
	core) echo "core" ;;
	parse) echo "core parse" ;;
	sys) echo "core parse sys" ;;
	sources) echo "core parse sys sources bpf" ;;
	sample) echo "core parse sys sample" ;;
	analysis) echo "core parse analysis" ;;
	engine) echo "core parse analysis engine" ;;
	sinks) echo "core parse analysis engine topo sim sinks" ;;
	host) echo "core parse sys analysis topo host" ;;
	probe) echo "core parse sys analysis probe" ;;
	topo) echo "core parse sys topo" ;;
	sim) echo "core sim" ;;
	bpf) echo "bpf" ;;
	cmd | main.c) echo "*" ;;
	*) echo "" ;;
	esac
}

# Known exceptions, each with its reason.  Remove a line once its reason is gone.
exception() {	# exception FILE TARGET -> 0 when allowed
	case "$1 $2" in
	# The sampler still wires each source by hand; the sources table (issue 12,
	# point 3) replaces this with one registry the sampler iterates.
	"src/sample/sampler.c src/host/vmscan.h" | "src/sample/sampler.c src/sources/"* | "src/sample/sampler.h src/sources/stalls.h" | \
	"src/sample/sampler.c src/topo/topo.h") return 0 ;;
	# Host mode's discovery reads the vCPUs' schedstat through the eBPF task
	# iterator, whose user half is a source.
	"src/host/vmscan.c src/sources/bpf/taskstat.h") return 0 ;;
	esac
	return 1
}

bad=0
for f in $(find src -name '*.[ch]' ! -path 'src/bpf/vmlinux/*' | sort); do
	rel=${f#src/}
	case $rel in
	*/*) layer=${rel%%/*} ;;
	*) layer=$rel ;;
	esac
	may=$(allowed "$layer")
	if [ -z "$may" ]; then
		echo "$f: directory src/$layer has no place in scripts/check-layers.sh" >&2
		bad=1
		continue
	fi
	[ "$may" = "*" ] && continue
	dir=$(dirname "$f")
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		target=$(realpath -m --relative-to=. "$dir/$inc")
		[ -e "$target" ] || continue	# generated (build/bpf/*.skel.h)
		case $target in
		src/*/*) tl=${target#src/}; tl=${tl%%/*} ;;
		*) echo "$f: includes $inc, outside src/" >&2; bad=1; continue ;;
		esac
		ok=0
		for l in $may; do
			[ "$l" = "$tl" ] && ok=1
		done
		[ $ok = 1 ] && continue
		if exception "$f" "$target"; then
			[ "$verbose" = 1 ] && echo "$f: includes $target (a known exception)"
			continue
		fi
		echo "$f: includes $target ($layer may use: $may)" >&2
		bad=1
	done
done
[ $bad = 0 ] || echo "check-layers: includes against the layer rule (docs/architecture.md)" >&2
exit $bad
