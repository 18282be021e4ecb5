/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "vnuma/model/policy-mode.h"

/* Rendering of observations for vnumactl: a stable JSON document and human tables. */

#include <stdio.h>

#include "vnuma/report/observe.h"

struct json_object;

/* The version of the JSON documents of vnumactl and of vnumad's control socket, their
 * "schema_version": apart from vnumad's own version, raised when a key is renamed or removed or
 * changes meaning (adding a key does not). 2: "schema_version" and "errors" in every document,
 * "name" for a VM everywhere, one shape for policy get. Schemas: contrib/schema/. */
#define SHOW_JSON_SCHEMA_VERSION 2

/* {"schema_version": N, "errors": []}: how every document starts. NULL on allocation failure. */
struct json_object *show_json_document(void);
/* Appends {"what", "message"} to doc's "errors": a part of the answer that could not be had
 * (one VM, one socket, libvirt), so that a reader sees it missing rather than not there. */
void show_json_add_error(struct json_object *doc, const char *what, const char *message);

/* New JSON objects; NULL on allocation failure. */
struct json_object *show_json_host(const struct host_topology *topo);
/* {"mode", "nodes", "pin", "migrate_rate_bytes", "cells": [{"id", "nodes"}]}; nodes as a list
 * string, "" for all nodes. */
struct json_object *show_json_policy(const struct vm_policy *p);
/* A CPU or node set in the kernel's list format ("0-3,8"); "" for an empty set. */
struct json_object *show_json_idset(const struct idset *s);
struct json_object *show_json_domain(const struct vm_observation *o, const struct host_topology *topo,
                                     const char *source);

/* "locality_ratio" of a JSON object as a percentage with one decimal, or "-" when null. */
void show_format_ratio(struct json_object *o, char *buf, size_t size);

/* Renders one element of "domains" (as show_json_domain makes it, or as the daemon sends it)
 * with the "host" object of the same document. Missing keys print as "-" or "?". */
void show_table_domain(FILE *f, struct json_object *domain, struct json_object *host);
