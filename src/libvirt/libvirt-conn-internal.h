/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the libvirt connection: its state, shared by libvirt-conn.c (connect, keepalive,
 * reconnect with backoff, teardown) and libvirt-domain-events.c (the domain event callbacks and
 * discovery, turned into the daemon's callbacks). Calls go one way: libvirt-conn.c ->
 * libvirt-domain-events.c. */

#include "vnuma/libvirt/libvirt-conn.h"

enum {
        EV_LIFECYCLE,
        EV_DEVICE_ADDED,
        EV_DEVICE_REMOVED,
        EV_METADATA,
        EV_TUNABLE,
        _EV_MAX,
};

struct known_domain {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char *name;
};

struct libvirt_conn {
        char *uri;
        char *pid_dir;
        int keepalive_interval_s;
        unsigned keepalive_count;
        unsigned reconnect_min_ms, reconnect_max_ms;
        struct libvirt_conn_callbacks cb;
        void *userdata;

        virConnectPtr conn;
        int event_ids[_EV_MAX];
        bool close_cb_registered;
        unsigned generation;

        int timer;         /* reconnect / teardown timer, -1 if none */
        unsigned delay_ms; /* current backoff delay; 0 while connected */
        bool closing;      /* the close callback fired: tear down on the next timer */
        char *last_error;

        /* Running domains we reported up, to report those that vanished while disconnected. */
        size_t n_known;
        struct known_domain *known;
};

/* Registers the domain event callbacks on c->conn, their ids in c->event_ids. */
int libvirt_conn_register_events(struct libvirt_conn *c);
/* Deregisters those that were registered (teardown). */
void libvirt_conn_deregister_events(struct libvirt_conn *c);
/* Running domains now: reports each up, and those that were up before but are gone, down. */
void libvirt_conn_discover(struct libvirt_conn *c);
/* Forgets the domains reported up (libvirt_conn_free). */
void libvirt_conn_forget_known(struct libvirt_conn *c);
