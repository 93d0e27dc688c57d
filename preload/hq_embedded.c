/*
 * hq_embedded.c: the program's own LeakSanitizer suppressions.
 *
 * A program may define `const char *__lsan_default_suppressions(void)` returning suppression
 * lines (LeakSanitizer reads them the same way).  At exit the recorder finds it (a dynamic
 * symbol, or the executable's own symbol table: executables rarely export it) and records what
 * it returns, for `heapql gate` (meta embedded_suppressions).
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload_int.h"

#define NAME "__lsan_default_suppressions"

/* The executable's symbol NAME from its .symtab (or .dynsym), relocated; 0 when absent. */
static uintptr_t from_exe(void) {
  struct stat sb;
  const unsigned char *map;
  uintptr_t found = 0, bias = 0;
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  struct link_map *lm = _r_debug.r_map; /* the executable's entry comes first */
  if (fd < 0) return 0;
  if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof(ElfW(Ehdr))) {
    hq__real.close(fd);
    return 0;
  }
  map = (const unsigned char *)syscall(SYS_mmap, NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  hq__real.close(fd);
  if ((long)map < 0 && (long)map > -4096) return 0;
  if (lm) bias = (uintptr_t)lm->l_addr;
  {
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)map;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(map + eh->e_shoff);
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_shoff + (size_t)eh->e_shnum * sizeof *sh > (size_t)sb.st_size)
      goto out;
    for (int i = 0; i < eh->e_shnum && !found; i++) {
      const ElfW(Shdr) *strs;
      if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM) continue;
      if (sh[i].sh_link >= eh->e_shnum) continue;
      strs = &sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > (size_t)sb.st_size || strs->sh_offset + strs->sh_size > (size_t)sb.st_size)
        continue;
      for (size_t k = 0; k < sh[i].sh_size / sizeof(ElfW(Sym)); k++) {
        const ElfW(Sym) *s = (const ElfW(Sym) *)(map + sh[i].sh_offset) + k;
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !s->st_value || s->st_name >= strs->sh_size) continue;
        if (!strcmp((const char *)map + strs->sh_offset + s->st_name, NAME)) {
          found = bias + s->st_value;
          break;
        }
      }
    }
  }
out:
  syscall(SYS_munmap, map, (size_t)sb.st_size);
  return found;
}

void hq__record_embedded_suppressions(void) {
  const char *(*fn)(void) = NULL;
  void *sym = dlsym(RTLD_DEFAULT, NAME);
  uintptr_t addr = sym ? (uintptr_t)sym : from_exe();
  const char *text;
  struct {
    hq_rec_text_t rec;
    char body[8192];
  } r;
  size_t len;
  if (!addr) return;
  memcpy(&fn, &addr, sizeof fn);
  text = fn();
  if (!text) return;
  len = strnlen(text, sizeof r.body - 1);
  memset(&r, 0, sizeof r);
  memcpy(r.body, text, len);
  r.rec.hdr.type = HQ_REC_TEXT;
  r.rec.hdr.kind = HQ_TEXT_SUPPRESSIONS;
  r.rec.len = (uint32_t)len;
  r.rec.hdr.len = (uint32_t)((sizeof r.rec + len + 1 + 7) & ~(size_t)7);
  hq__writer_put(&r, r.rec.hdr.len);
}
