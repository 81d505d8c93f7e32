// SPDX-License-Identifier: MIT
/*
 * A sysfs tree for the simulated device, next to the socket:
 * <dir>/sysfs/class/infiniband/crs_hca0/... and class/infiniband_verbs.
 * The library reports <dir>/sysfs as ibv_get_sysfs_path(), so programs that
 * look for $sysfs/class/infiniband (Open MPI does) or read device files
 * find what a real node would show.
 */
#include "hcad.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define PATH_LEN (4096 + 256)

static char root[4096];

static int mkdirs(const char *path)
{
	char tmp[PATH_LEN];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static void put(const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(const char *rel, const char *fmt, ...)
{
	char path[PATH_LEN], *slash;
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdirs(path))
		return;
	*slash = '/';
	f = fopen(path, "w");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static void guid(char *buf, size_t len, uint64_t g)
{
	snprintf(buf, len, "%04x:%04x:%04x:%04x", (unsigned int)(g >> 48),
		 (unsigned int)(g >> 32) & 0xffff,
		 (unsigned int)(g >> 16) & 0xffff, (unsigned int)g & 0xffff);
}

void sysfs_create(const char *sock)
{
	const char *dev = "class/infiniband/" HCA_DEV_NAME;
	char g[32], p[256], gid[64];
	uint64_t pg = hcadev.node_guid + 1;
	const char *slash = strrchr(sock, '/');

	if (!slash || slash == sock ||
	    snprintf(root, sizeof(root), "%.*s/sysfs", (int)(slash - sock),
		     sock) >= (int)sizeof(root)) {
		root[0] = '\0';
		return;
	}
	sysfs_remove();		/* a previous daemon's */
	guid(g, sizeof(g), hcadev.node_guid);
	snprintf(gid, sizeof(gid), "fe80:0000:0000:0000:%04x:%04x:%04x:%04x",
		 (unsigned int)(pg >> 48), (unsigned int)(pg >> 32) & 0xffff,
		 (unsigned int)(pg >> 16) & 0xffff, (unsigned int)pg & 0xffff);

#define P(f, ...) do { \
		snprintf(p, sizeof(p), "%s/%s", dev, f); \
		put(p, __VA_ARGS__); \
	} while (0)
	P("node_type", "1: CA");
	P("node_guid", "%s", g);
	P("sys_image_guid", "%s", g);
	P("node_desc", "crs-hca simulated HCA");
	P("fw_ver", "1.0.0");
	P("hw_rev", "1");
	P("hca_type", "CRS-HCA");
	P("board_id", "CRS_SIM_0001");
	P("ports/1/state", "4: ACTIVE");
	P("ports/1/phys_state", "5: LinkUp");
	P("ports/1/lid", "0x%x", hcadev.lid);
	P("ports/1/sm_lid", "0x%x", hcadev.lid);
	P("ports/1/lid_mask_count", "0");
	P("ports/1/sm_sl", "0");
	P("ports/1/rate", "100 Gb/sec (4X EDR)");
	P("ports/1/link_layer", "InfiniBand");
	P("ports/1/cap_mask", "0x%08x", IBV_PORT_SM | IBV_PORT_SYS_IMAGE_GUID_SUP);
	P("ports/1/gids/0", "%s", gid);
	P("ports/1/gid_attrs/types/0", "IB/RoCE v1");
	P("ports/1/pkeys/0", "0xffff");
#undef P
	put("class/infiniband_verbs/abi_version", "6");
	put("class/infiniband_verbs/uverbs0/ibdev", HCA_DEV_NAME);
	put("class/infiniband_verbs/uverbs0/abi_version", "1");
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

void sysfs_remove(void)
{
	if (root[0])
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
