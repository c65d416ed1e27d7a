/*
 * bench.h — helpers for bench/run: corpus generation, the durable append
 * measurement, and timing of whole commands (as a shell user runs them).
 */
#ifndef DAIMON_BENCH_H
#define DAIMON_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* A Zipf-distributed synthetic vocabulary. */
typedef struct bench_vocab bench_vocab;
bench_vocab *bench_vocab_new(size_t words, double exponent);
void bench_vocab_free(bench_vocab *v);
/* A word of rank k (0 = most frequent). */
const char *bench_vocab_word(const bench_vocab *v, size_t k);
/* A random rank drawn from the Zipf distribution. */
size_t bench_vocab_draw(const bench_vocab *v, uint64_t *rng);
size_t bench_vocab_size(const bench_vocab *v);
uint64_t bench_rand(uint64_t *rng);

#endif
