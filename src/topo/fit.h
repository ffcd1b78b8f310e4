/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Does a VM fit in one NUMA node, and which vSocket x vCore shape and vNUMA
 * layout should it get?  Pure logic, no I/O: a host shape and a VM request in,
 * a verdict out, with the reason in words and the matching libvirt and QEMU
 * configuration.
 *
 * The rules:
 *   - a node has two capacities, CPUs and memory; a VM fits one node only if
 *     both fit (the classic mistake sizes vNUMA by vCPUs alone);
 *   - vCPUs are counted against full cores first; hyper-threads are used
 *     only when the host has them, exposed as threads=2 so the guest knows
 *     which vCPUs share a core, and only with each sibling pair pinned to
 *     one host core's two threads;
 *   - a VM that needs k nodes gets k vSockets and k vNUMA cells of equal
 *     CPUs and memory, cell i bound to host node i; when the vCPUs do not
 *     divide by k, say so, suggest the neighbouring counts that do, and give
 *     an uneven layout with one vCPU per vSocket so no socket spans nodes;
 *   - headroom: the host needs some of each node for itself (kernel, QEMU,
 *     page tables); taking >= 90 % of a node's memory or all its cores is
 *     flagged.
 */
#ifndef HQ_FIT_H
#define HQ_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIT_MAX_NODES 64
#define FIT_MAX_VCPUS 4096
#define FIT_HEADROOM_PCT 90

struct fit_host {
	unsigned sockets, cores_per_socket, threads_per_core;
	unsigned nodes;			/* NUMA nodes with CPUs; 0 = one per socket */
	uint64_t mem_per_node_mib;	/* usable memory of the smallest node */
	const int *node_ids;		/* optional: host node ids (nodes entries) */
};

struct fit_vm {
	unsigned vcpus;
	uint64_t mem_mib;
};

enum fit_kind {
	FIT_BAD_INPUT,		/* reason says what is wrong */
	FIT_ONE_NODE,		/* fits in one NUMA node */
	FIT_SPLIT,		/* needs k > 1 nodes, even vNUMA layout */
	FIT_UNEVEN,		/* needs k > 1 nodes, vCPUs do not divide by k */
	FIT_TOO_BIG,		/* does not fit this host at all */
};

struct fit_cell {
	unsigned first_cpu, ncpus;	/* vCPU range first_cpu..first_cpu+ncpus-1 */
	uint64_t mem_mib;
	int host_node;
};

struct fit_verdict {
	enum fit_kind kind;
	bool uses_threads;		/* vCPUs share host cores (sibling pairs) */
	bool no_headroom;		/* >= FIT_HEADROOM_PCT of a node's memory or all its cores */
	bool cpus_fit_one_node;		/* the vCPUs alone would fit one node */
	unsigned sockets, dies, cores, threads;	/* the guest's CPU topology */
	unsigned ncells;
	struct fit_cell cells[FIT_MAX_NODES];
	unsigned suggest_lower, suggest_upper;	/* FIT_UNEVEN: even vCPU counts nearby (0: none) */
	/* host numbers the verdict used */
	unsigned host_nodes, host_cores_per_node, host_threads_per_node;
	uint64_t host_mem_per_node_mib;
	char reason[768];
	char notes[6][320];
	unsigned nnotes;
	char *libvirt;			/* owned; NULL unless the VM fits */
	char *qemu;			/* owned; NULL unless the VM fits */
	int exit_code;			/* 0 clean fit, 1 fits with caveats, 2 does not fit, 3 bad input */
};

/* Fills *v (always; fit_done frees it).  Returns v->kind. */
enum fit_kind fit_compute(const struct fit_host *h, const struct fit_vm *vm, struct fit_verdict *v);
void fit_done(struct fit_verdict *v);

const char *fit_kind_name(enum fit_kind k);
/* "96 GiB", "512 MiB", "1.5 GiB" */
void fit_fmt_mib(uint64_t mib, char *buf, size_t n);

/*
 * Parse a memory size for the command line: "192G", "192GiB", "192GB",
 * "512M", "1T", "1.5G" (binary units: G = GiB); a bare number is GiB.
 * Returns 0 and MiB, or -EINVAL (also for zero or above 1 PiB).
 */
int fit_parse_mem(const char *s, uint64_t *mib);

/* A host shape and where it came from ("options", "live", a bundle path). */
struct fit_host_src {
	struct fit_host h;
	int node_ids[FIT_MAX_NODES];
	const char *source;
	char why[256];		/* a remark on how the shape was derived, may be empty */
	const char *mem_source;	/* which figure sizes a node's memory (topo.node_mem_source, or the option) */
	char mem_note[320];	/* and why, may be empty */
	bool mem_lazy;		/* that figure is known to be short (lazily filled per-node counts) */
};

struct topo;	/* topo.h */
/* The host shape from a topology (live or bundle): the nodes with both CPUs
 * and memory, the smallest node's memory.  0 or -EINVAL with a reason. */
int fit_host_from_topo(const struct topo *t, struct fit_host_src *hs, char **why);

#endif
