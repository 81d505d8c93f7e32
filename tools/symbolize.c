/* Function names for backtrace frames in the main executable (libelf). */
#include "symbolize.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct elf_syms {
	Elf *elf;
	int fd;
	uint64_t load_base;	/* lowest PT_LOAD vaddr for ET_EXEC, 0 for PIE */
};

static int open_exe(pid_t pid, struct elf_syms *s)
{
	char path[64];
	GElf_Ehdr eh;
	size_t n;

	memset(s, 0, sizeof(*s));
	elf_version(EV_CURRENT);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return -1;
	s->elf = elf_begin(s->fd, ELF_C_READ, NULL);
	if (!s->elf || !gelf_getehdr(s->elf, &eh) || elf_getphdrnum(s->elf, &n) != 0) {
		if (s->elf)
			elf_end(s->elf);
		close(s->fd);
		return -1;
	}
	if (eh.e_type == ET_EXEC) {
		s->load_base = UINT64_MAX;
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(s->elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < s->load_base)
				s->load_base = ph.p_vaddr;
		}
		if (s->load_base == UINT64_MAX)
			s->load_base = 0;
	}
	return 0;
}

/* The function symbol (.symtab, else .dynsym) containing vaddr. */
static const char *lookup(struct elf_syms *s, uint64_t vaddr, uint64_t *start)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(s->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / (sh.sh_entsize ? sh.sh_entsize : 1); i++) {
			GElf_Sym sym;

			if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			if (vaddr >= sym.st_value && vaddr < sym.st_value + (sym.st_size ? sym.st_size : 1)) {
				*start = sym.st_value;
				return elf_strptr(s->elf, sh.sh_link, sym.st_name);
			}
		}
	}
	return NULL;
}

void symbolize_record(pid_t pid, json_t *rec)
{
	char link[64], exe[4096], *base;
	struct elf_syms s;
	ssize_t n;
	size_t i, k;
	json_t *o, *f;
	int opened = 0;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	json_array_foreach(json_object_get(rec, "objects"), i, o) {
		json_array_foreach(json_object_get(o, "backtrace"), k, f) {
			const char *frame = json_string_value(f);
			size_t bl = strlen(base);
			unsigned long long off, start = 0;
			const char *name;
			char out[1024];

			if (!frame || strchr(frame, '(') || strncmp(frame, base, bl) || strncmp(frame + bl, "+0x", 3))
				continue;
			if (!opened) {
				if (open_exe(pid, &s) < 0)
					return;
				opened = 1;
			}
			off = strtoull(frame + bl + 3, NULL, 16);
			/* a return address: the call is just before it */
			name = lookup(&s, s.load_base + off - 1, (uint64_t *)&start);
			if (!name)
				continue;
			snprintf(out, sizeof(out), "%s (%s+0x%llx)", frame, name, s.load_base + off - start);
			json_array_set_new(json_object_get(o, "backtrace"), k, json_string(out));
		}
	}
	if (opened) {
		elf_end(s.elf);
		close(s.fd);
	}
}
