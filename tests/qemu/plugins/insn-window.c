// SPDX-License-Identifier: GPL-2.0
/*
 * insn-window: a TCG plugin for make cost-profile. Counts, per vCPU, how
 * many times each guest instruction executes inside windows that open when
 * any vCPU executes the instruction at start= and close when one executes
 * the one at end=; at each close it appends the window's counts to out=:
 *
 *   W <window> <vcpu> <instructions executed>
 *   I <window> <vcpu> <address> <times executed>
 *
 * Run with single-threaded TCG (-icount implies it): the callbacks share
 * their counters without locks. The counts are those of whole translated
 * blocks: the block that opens a window is not counted, the one that closes
 * it is, a few instructions per window. A block's list of instructions is
 * right only with tests/qemu/0008: QEMU 7.2 lists an x86 instruction that
 * it took back at a page boundary in two blocks.
 *
 * Usage: -plugin insn-window.so,start=HEX,end=HEX,out=PATH
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_VCPUS 8

/* One translated block: its instructions' addresses, and how often it ran. */
struct block {
	uint64_t runs[MAX_VCPUS];
	size_t n;
	uint64_t *addr;
};

static GPtrArray *blocks;
static uint64_t start_addr, end_addr;
static char *out_path;
static bool active;
static unsigned int window;
static uint64_t executed[MAX_VCPUS];

static void block_exec(unsigned int vcpu, void *udata)
{
	struct block *b = udata;

	if (!active || vcpu >= MAX_VCPUS)
		return;
	b->runs[vcpu]++;
	executed[vcpu] += b->n;
}

static void reset_counts(void)
{
	for (guint i = 0; i < blocks->len; i++) {
		struct block *b = g_ptr_array_index(blocks, i);

		memset(b->runs, 0, sizeof(b->runs));
	}
	memset(executed, 0, sizeof(executed));
}

/* Per-instruction sums: one address can sit in several blocks. */
static void dump(void)
{
	FILE *f = fopen(out_path, "a");

	if (!f) {
		fprintf(stderr, "insn-window: cannot write %s\n", out_path);
		return;
	}
	for (unsigned int v = 0; v < MAX_VCPUS; v++) {
		GHashTable *h;
		GHashTableIter it;
		gpointer key, val;

		if (!executed[v])
			continue;
		h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
		for (guint i = 0; i < blocks->len; i++) {
			struct block *b = g_ptr_array_index(blocks, i);

			if (!b->runs[v])
				continue;
			for (size_t k = 0; k < b->n; k++) {
				uint64_t *c = g_hash_table_lookup(h, &b->addr[k]);

				if (!c) {
					c = g_new0(uint64_t, 1);
					g_hash_table_insert(h, g_memdup2(&b->addr[k], sizeof(uint64_t)), c);
				}
				*c += b->runs[v];
			}
		}
		fprintf(f, "W %u %u %" PRIu64 "\n", window, v, executed[v]);
		g_hash_table_iter_init(&it, h);
		while (g_hash_table_iter_next(&it, &key, &val))
			fprintf(f, "I %u %u %" PRIx64 " %" PRIu64 "\n", window, v,
				*(uint64_t *)key, *(uint64_t *)val);
		g_hash_table_destroy(h);
	}
	fclose(f);
}

static void window_open(unsigned int vcpu, void *udata)
{
	if (active)
		return;
	reset_counts();
	active = true;
}

static void window_close(unsigned int vcpu, void *udata)
{
	if (!active)
		return;
	active = false;
	dump();
	window++;
}

static void block_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = g_new0(struct block, 1);

	b->n = qemu_plugin_tb_n_insns(tb);
	b->addr = g_new(uint64_t, b->n);
	for (size_t i = 0; i < b->n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		b->addr[i] = qemu_plugin_insn_vaddr(insn);
		if (b->addr[i] == start_addr)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, window_open,
							       QEMU_PLUGIN_CB_NO_REGS, NULL);
		if (b->addr[i] == end_addr)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, window_close,
							       QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
	g_ptr_array_add(blocks, b);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, block_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "start=", 6))
			start_addr = strtoull(argv[i] + 6, NULL, 16);
		else if (!strncmp(argv[i], "end=", 4))
			end_addr = strtoull(argv[i] + 4, NULL, 16);
		else if (!strncmp(argv[i], "out=", 4))
			out_path = g_strdup(argv[i] + 4);
	}
	if (!start_addr || !end_addr || !out_path) {
		fprintf(stderr, "insn-window: start=, end= and out= are needed\n");
		return -1;
	}
	if (!info->system_emulation || info->system.max_vcpus > MAX_VCPUS) {
		fprintf(stderr, "insn-window: system emulation with at most %d vCPUs only\n",
			MAX_VCPUS);
		return -1;
	}
	blocks = g_ptr_array_new();
	qemu_plugin_register_vcpu_tb_trans_cb(id, block_trans);
	return 0;
}
