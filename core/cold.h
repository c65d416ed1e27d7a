/*
 * cold.h — memory for what lives long and sits idle: a hibernated
 * actor's state, registry entries.
 *
 * malloc puts such small objects wherever the heap has a hole, in among
 * the churn of running turns; when the turns' memory is freed, each
 * survivor keeps its whole page resident, and ten thousand idle sessions
 * pin tens of megabytes. Cold objects come instead from their own mmap'd
 * chunks, packed together, so the heap around them can go back to the
 * system. Size classes of 64, 128 and 256 bytes; larger requests are
 * plain malloc. Thread-safe.
 */
#ifndef DAIMON_CORE_COLD_H
#define DAIMON_CORE_COLD_H

#include <stddef.h>

typedef struct daimon_cold daimon_cold; /* (also declared by actor.h) */

daimon_cold *daimon_cold_new(void);
void daimon_cold_free_all(daimon_cold *c);
/* `size` bytes, zeroed; free with the same size. */
void *daimon_cold_alloc(daimon_cold *c, size_t size);
void daimon_cold_free(daimon_cold *c, void *p, size_t size);
/* Bytes in chunks (introspection). */
size_t daimon_cold_bytes(daimon_cold *c);

#endif
