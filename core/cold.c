/*
 * cold.c — see cold.h. A free list per size class; chunks of 64 KiB
 * from mmap, never handed back while the owner lives (idle objects come
 * and go in step with sessions, and the chunks are reused).
 */
#include "core/cold.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/buf.h"

#define CHUNK_BYTES (64 * 1024)
#define CLASSES 3

struct chunk {
	struct chunk *next;
};

struct daimon_cold {
	pthread_mutex_t mu;
	void *free[CLASSES];
	struct chunk *chunks;
	size_t bytes;
};

static int class_of(size_t size)
{
	return size <= 64 ? 0 : size <= 128 ? 1 : size <= 256 ? 2 : -1;
}

daimon_cold *daimon_cold_new(void)
{
	daimon_cold *c = daimon_xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void daimon_cold_free_all(daimon_cold *c)
{
	if (!c)
		return;
	while (c->chunks) {
		struct chunk *k = c->chunks;
		c->chunks = k->next;
		munmap(k, CHUNK_BYTES);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void *daimon_cold_alloc(daimon_cold *c, size_t size)
{
	int k = class_of(size);
	if (k < 0)
		return daimon_xcalloc(1, size);
	size_t obj = (size_t)64 << k;
	pthread_mutex_lock(&c->mu);
	if (!c->free[k]) {
		struct chunk *ch = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ch == MAP_FAILED) {
			pthread_mutex_unlock(&c->mu);
			return daimon_xcalloc(1, size); /* (the first object of a chunk is the chunk's link) */
		}
		ch->next = c->chunks;
		c->chunks = ch;
		c->bytes += CHUNK_BYTES;
		for (size_t off = CHUNK_BYTES - obj; off >= obj; off -= obj) {
			void **o = (void **)((char *)ch + off);
			*o = c->free[k];
			c->free[k] = o;
		}
	}
	void **o = c->free[k];
	c->free[k] = *o;
	pthread_mutex_unlock(&c->mu);
	memset(o, 0, obj);
	return o;
}

void daimon_cold_free(daimon_cold *c, void *p, size_t size)
{
	if (!p)
		return;
	int k = class_of(size);
	/* (a fallback from a failed mmap is malloc'd: not inside any chunk) */
	int ours = 0;
	pthread_mutex_lock(&c->mu);
	for (struct chunk *ch = c->chunks; k >= 0 && ch && !ours; ch = ch->next)
		ours = (char *)p > (char *)ch && (char *)p < (char *)ch + CHUNK_BYTES;
	if (ours) {
		*(void **)p = c->free[k];
		c->free[k] = p;
	}
	pthread_mutex_unlock(&c->mu);
	if (!ours)
		free(p);
}

size_t daimon_cold_bytes(daimon_cold *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->bytes;
	pthread_mutex_unlock(&c->mu);
	return n;
}
