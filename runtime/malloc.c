/*
 * malloc and friends over the heap region the host gives the domain
 * (keycell_runtime.heap_base/heap_size). A boundary-tag allocator: every
 * chunk starts with its size and, while the chunk before it is free, that
 * chunk's size, so neighbours coalesce on free. Free chunks sit on one
 * doubly-linked list searched first-fit. Payloads are 16-byte aligned.
 *
 * Corruption of this heap by the sandboxed code harms only the domain: the
 * heap lies in domain memory and the host never reads these headers.
 */
#include "internal.h"

struct chunk {
  size_t prev_size; /* size of the previous chunk, valid only while it is free */
  size_t size;      /* whole chunk including this header, plus the flags below */
  struct chunk *next_free;
  struct chunk *prev_free;
};

#define IN_USE ((size_t)1)
#define PREV_IN_USE ((size_t)2)
#define FLAGS (IN_USE | PREV_IN_USE)
#define HEADER (2 * sizeof(size_t))
#define MIN_CHUNK sizeof(struct chunk)
#define ALIGNMENT 16

static struct chunk *free_list;
static uintptr_t heap_start, heap_end;
static int heap_ready;
static volatile int heap_lock;

static void lock(void) {
  while (__atomic_exchange_n(&heap_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
}

static void unlock(void) { __atomic_store_n(&heap_lock, 0, __ATOMIC_RELEASE); }

static size_t size_of(const struct chunk *c) { return c->size & ~FLAGS; }
static struct chunk *next_of(struct chunk *c) { return (struct chunk *)((char *)c + size_of(c)); }
static void *payload_of(struct chunk *c) { return (char *)c + HEADER; }
static struct chunk *chunk_of(void *p) { return (struct chunk *)((char *)p - HEADER); }

static void unlink_free(struct chunk *c) {
  if (c->prev_free)
    c->prev_free->next_free = c->next_free;
  else
    free_list = c->next_free;
  if (c->next_free) c->next_free->prev_free = c->prev_free;
}

static void push_free(struct chunk *c) {
  c->prev_free = 0;
  c->next_free = free_list;
  if (free_list) free_list->prev_free = c;
  free_list = c;
}

/* Marks `c` free with `size`, tells its successor, and lists it. */
static void make_free(struct chunk *c, size_t size) {
  c->size = size | (c->size & PREV_IN_USE);
  struct chunk *next = next_of(c);
  next->prev_size = size;
  next->size &= ~PREV_IN_USE;
  push_free(c);
}

/* The heap is one free chunk followed by a zero-sized, in-use end marker. */
static int heap_init(void) {
  uintptr_t base = (keycell_runtime.heap_base + ALIGNMENT - 1) & ~(uintptr_t)(ALIGNMENT - 1);
  uintptr_t end =
      (keycell_runtime.heap_base + keycell_runtime.heap_size) & ~(uintptr_t)(ALIGNMENT - 1);
  if (keycell_runtime.magic != KEYCELL_RUNTIME_MAGIC || end <= base + 2 * MIN_CHUNK) return 0;
  heap_start = base;
  heap_end = end;
  struct chunk *first = (struct chunk *)base;
  struct chunk *marker = (struct chunk *)(end - HEADER);
  first->size = (end - HEADER - base) | PREV_IN_USE;
  marker->size = IN_USE;
  make_free(first, size_of(first));
  heap_ready = 1;
  return 1;
}

/* Splits the unused tail of in-use chunk `c` beyond `size` into a free chunk. */
static void trim(struct chunk *c, size_t size) {
  size_t whole = size_of(c);
  if (whole - size < MIN_CHUNK) return;
  c->size = size | (c->size & FLAGS);
  struct chunk *rest = next_of(c);
  rest->size = PREV_IN_USE;
  struct chunk *after = (struct chunk *)((char *)rest + (whole - size));
  if (!(after->size & IN_USE)) {
    unlink_free(after);
    make_free(rest, whole - size + size_of(after));
  } else {
    make_free(rest, whole - size);
  }
}

static size_t chunk_size_for(size_t request) {
  if (request > (size_t)1 << 46) return 0;
  size_t size = (request + HEADER + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
  return size < MIN_CHUNK ? MIN_CHUNK : size;
}

static void *allocate(size_t request) {
  size_t size = chunk_size_for(request);
  if (!size || (!heap_ready && !heap_init())) return 0;
  for (struct chunk *c = free_list; c; c = c->next_free) {
    if (size_of(c) < size) continue;
    unlink_free(c);
    c->size |= IN_USE;
    next_of(c)->size |= PREV_IN_USE;
    trim(c, size);
    return payload_of(c);
  }
  return 0;
}

static int owns(void *pointer) {
  uintptr_t at = (uintptr_t)pointer;
  return heap_ready && at >= heap_start + HEADER && at < heap_end && at % ALIGNMENT == 0 &&
         (chunk_of(pointer)->size & IN_USE);
}

static void release(void *pointer) {
  if (!owns(pointer)) kc_fatal("keycell runtime: free() of a pointer malloc() did not return\n");
  struct chunk *c = chunk_of(pointer);
  size_t size = size_of(c);
  struct chunk *next = next_of(c);
  if (!(next->size & IN_USE)) {
    unlink_free(next);
    size += size_of(next);
  }
  if (!(c->size & PREV_IN_USE)) {
    struct chunk *prev = (struct chunk *)((char *)c - c->prev_size);
    unlink_free(prev);
    size += size_of(prev);
    c = prev;
  }
  c->size &= ~IN_USE;
  make_free(c, size);
}

KC_EXPORT void *malloc(size_t size) {
  lock();
  void *result = allocate(size);
  unlock();
  if (!result) *__errno_location() = ENOMEM;
  return result;
}

KC_EXPORT void free(void *pointer) {
  if (!pointer) return;
  lock();
  release(pointer);
  unlock();
}

KC_EXPORT void *calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    *__errno_location() = ENOMEM;
    return 0;
  }
  void *result = malloc(total);
  return result ? memset(result, 0, total) : 0;
}

KC_EXPORT size_t malloc_usable_size(void *pointer) {
  return pointer ? size_of(chunk_of(pointer)) - HEADER : 0;
}

KC_EXPORT void *realloc(void *pointer, size_t size) {
  if (!pointer) return malloc(size);
  if (size == 0) {
    free(pointer);
    return 0;
  }
  size_t needed = chunk_size_for(size);
  lock();
  if (!owns(pointer)) kc_fatal("keycell runtime: realloc() of a pointer malloc() did not return\n");
  struct chunk *c = chunk_of(pointer);
  struct chunk *next = next_of(c);
  if (needed && size_of(c) < needed && !(next->size & IN_USE) &&
      size_of(c) + size_of(next) >= needed) {
    unlink_free(next);
    c->size += size_of(next);
    next_of(c)->size |= PREV_IN_USE;
  }
  if (needed && size_of(c) >= needed) {
    trim(c, needed);
    unlock();
    return pointer;
  }
  unlock();

  void *moved = malloc(size);
  if (!moved) return 0;
  memcpy(moved, pointer, malloc_usable_size(pointer));
  free(pointer);
  return moved;
}

void *kc_alloc_aligned(size_t alignment, size_t size) {
  if (alignment <= ALIGNMENT) return malloc(size);
  if (alignment & (alignment - 1)) return 0;
  lock();
  void *raw = allocate(size + alignment + MIN_CHUNK);
  if (!raw) {
    unlock();
    return 0;
  }
  /* Move the start forward to the alignment, leaving a gap that can be freed. */
  uintptr_t aligned = ((uintptr_t)raw + MIN_CHUNK + alignment - 1) & ~(uintptr_t)(alignment - 1);
  struct chunk *c = chunk_of(raw);
  struct chunk *moved = chunk_of((void *)aligned);
  size_t gap = (uintptr_t)moved - (uintptr_t)c;
  moved->size = (size_of(c) - gap) | IN_USE;
  c->size = gap | (c->size & PREV_IN_USE);
  make_free(c, gap);
  trim(moved, chunk_size_for(size));
  unlock();
  return (void *)aligned;
}

KC_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
  void *result = kc_alloc_aligned(alignment, size);
  if (!result) return ENOMEM;
  *out = result;
  return 0;
}

KC_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  return kc_alloc_aligned(alignment, size);
}
KC_EXPORT void *memalign(size_t alignment, size_t size) {
  return kc_alloc_aligned(alignment, size);
}
