/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The guest model: what one QEMU process looks like in NUMA terms, as learned over QMP and
 * checked against /proc. Built once per VM (and again after hotplug); read-only afterwards. */

#include <stdint.h>
#include <sys/types.h>

#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

enum backend_kind {
        BACKEND_RAM,
        BACKEND_MEMFD,
        BACKEND_FILE,
        _BACKEND_KIND_MAX,
        BACKEND_KIND_INVALID = -1,
};

const char *backend_kind_to_string(enum backend_kind k);
enum backend_kind backend_kind_from_qom_type(const char *qom_type);

/* Who else may map a region's pages, as the kernel shows its mappings (smaps), never as QEMU says.
 * It decides how the actuator moves them (vnumad(8), SHARED BACKENDS). The zero value moves the
 * least: a region nobody classified is treated as private. */
enum region_sharing {
        REGION_PRIVATE,       /* MAP_PRIVATE: only KSM or copy-on-write pages have other mappers */
        REGION_SHARED_MEMORY, /* MAP_SHARED of per-VM memory: memfd, hugetlbfs, /dev/shm */
        REGION_SHARED_FILE,   /* MAP_SHARED of any other file: its page cache is not the VM's */
        _REGION_SHARING_MAX,
};

const char *region_sharing_to_string(enum region_sharing s);

/* One host mapping of guest RAM: a memory backend, the boot RAM of a cell or a pc-dimm /
 * virtio-mem device plugged into a cell. A RAMBlock is one contiguous host mapping. */
struct guest_region {
        char *backend_id; /* QOM id, e.g. "m0" or "ram-node0" */
        char *device_id;  /* pc-dimm / virtio-mem device id, NULL for boot RAM */
        enum backend_kind kind;
        uint64_t size_bytes;
        uint64_t page_size; /* KernelPageSize of the host mapping */
        char *policy;       /* QEMU's HostMemPolicy: default, preferred, bind, interleave */
        struct idset host_nodes;
        bool prealloc;
        uint64_t hva_start; /* [hva_start, hva_start + size_bytes) */
        enum region_sharing sharing;
};

struct guest_cell {
        int id;              /* guest NUMA node id */
        uint64_t size_bytes; /* sum of its regions */
        struct idset vcpus;  /* cpu-index values; empty for a CPU-less cell */
        unsigned n_regions;
        struct guest_region *regions;
};

struct guest_vcpu {
        int index; /* cpu-index */
        pid_t tid;
        int cell; /* guest node id */
};

enum guest_thread_kind {
        GUEST_THREAD_EMULATOR,
        GUEST_THREAD_IOTHREAD,
        _GUEST_THREAD_KIND_MAX,
};

const char *guest_thread_kind_to_string(enum guest_thread_kind k);

struct guest_thread {
        pid_t tid;
        enum guest_thread_kind kind;
        char *name; /* comm, or the iothread id */
};

struct guest_model {
        char *name;
        pid_t pid;
        int qemu_major, qemu_minor, qemu_micro;
        unsigned n_cells;
        struct guest_cell *cells; /* sorted by id */
        unsigned n_vcpus;
        struct guest_vcpu *vcpus; /* sorted by index */
        unsigned n_threads;
        struct guest_thread *threads; /* non-vCPU threads, sorted by tid */
};

void guest_model_free(struct guest_model *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct guest_model *, guest_model_free);

/* Position of cell id in m->cells, or -ENOENT. */
int guest_model_cell_index(const struct guest_model *m, int cell_id);
