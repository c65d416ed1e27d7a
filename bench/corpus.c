/*
 * corpus.c — a synthetic vocabulary with Zipf-like word frequencies.
 *
 * Words are made of syllables so they look like words to a tokenizer
 * (letters only) and are unique per rank: rank k is written in base 40
 * with one syllable per digit. Frequencies follow 1/(k+1)^s, the shape of
 * natural language; draws use the cumulative table and a binary search.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/buf.h"

static const char *const syll[40] = {
	"ka",  "lo",  "mi",  "ne",  "ru",  "sa",  "ti",  "vo",  "be",  "da",  "fu",  "go",  "hi", "ja",
	"ke",  "lu",  "ma",  "no",  "pi",  "qua", "re",  "so",  "tu",  "ve",  "wa",  "xe",  "yo", "zu",
	"bra", "cle", "dri", "fro", "gla", "pre", "sto", "tri", "ple", "sha", "cho", "thi",
};

struct bench_vocab {
	size_t n;
	char **words;
	double *cdf;
};

uint64_t bench_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

bench_vocab *bench_vocab_new(size_t n, double s)
{
	bench_vocab *v = daimon_xcalloc(1, sizeof(*v));
	v->n = n;
	v->words = daimon_xmalloc(n * sizeof(*v->words));
	v->cdf = daimon_xmalloc(n * sizeof(*v->cdf));
	double sum = 0;
	for (size_t k = 0; k < n; k++) {
		daimon_buf b = DAIMON_BUF_INIT;
		size_t x = k;
		do {
			daimon_buf_adds(&b, syll[x % 40]);
			x /= 40;
		} while (x);
		v->words[k] = daimon_buf_detach(&b);
		sum += 1.0 / pow((double)(k + 1), s);
		v->cdf[k] = sum;
	}
	for (size_t k = 0; k < n; k++)
		v->cdf[k] /= sum;
	return v;
}

void bench_vocab_free(bench_vocab *v)
{
	for (size_t k = 0; k < v->n; k++)
		free(v->words[k]);
	free(v->words);
	free(v->cdf);
	free(v);
}

const char *bench_vocab_word(const bench_vocab *v, size_t k)
{
	return v->words[k];
}
size_t bench_vocab_size(const bench_vocab *v)
{
	return v->n;
}

size_t bench_vocab_draw(const bench_vocab *v, uint64_t *rng)
{
	double u = (double)(bench_rand(rng) >> 11) / 9007199254740992.0;
	size_t lo = 0, hi = v->n - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
