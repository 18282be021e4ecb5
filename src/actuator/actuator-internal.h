/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the actuator: one handler per action type, called by actuator_apply. Tests include this
 * to reach the sched_setaffinity seam of struct actuator (actuator-state.h). */

#include "actuator-state.h"

/* Each handler writes one line saying what it did into line, and returns like actuator_apply. */
int actuator_pin(struct actuator *a, const struct action *act, const struct guest_model *m,
                 struct actuator_result *res, char *line, size_t size);
/* Takes the NUMA-hinting fault of each page (one byte read from pid, on a CPU of node) so that
 * move_pages sees it again on 6.0-6.4 kernels (actuator-unhint.c). Returns the pages read. */
size_t actuator_unhint_pages(pid_t pid, int node, void *const *pages, size_t n);
int actuator_migrate(struct actuator *a, const struct action *act, const struct guest_model *m,
                     struct actuator_result *res, char *line, size_t size);
int actuator_region_policy(struct actuator *a, const struct snapshot *s, const struct action *act,
                           const struct actuator_vm *vm, struct actuator_result *res, char *line,
                           size_t size);

/* A region policy worked out from the action and the VM's state, before any I/O: what
 * actuator_region_policy then enforces (on the VM's systemd unit, if it has one of its own) and
 * remembers. Tests read it to check the node ids and CPUs without systemd. */
struct region_plan {
        struct actuator_vm_state *st; /* the VM's; valid until the next plan */
        unsigned cell;                /* index into the model's and the state's cells */
        bool restricted;              /* bind/interleave: the cell is limited to nodes */
        struct idset nodes;           /* its kernel node ids, from the snapshot's positions */
        bool open;                    /* some cell is unrestricted: the unit is not restricted */
        struct idset mems;            /* AllowedMemoryNodes=: the union of the cells' nodes; empty if open */
        struct idset cpus;            /* AllowedCPUs=: the CPUs of those nodes */
};

/* Writes the line actuator_region_policy records, and returns like it; no I/O (it may make the
 * VM's state). */
int actuator_region_plan(struct actuator *a, const struct snapshot *s, const struct action *act,
                         const struct actuator_vm *vm, struct region_plan *ret, char *line, size_t size);
/* The plan was carried out: the VM's state takes the cell's restriction. */
void actuator_region_remember(const struct region_plan *p);
