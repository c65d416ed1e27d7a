/*
 * work.c — see work.h.
 *
 * A job is shared by its submitter (the handle) and the pool: a reference
 * count of two, dropped by daimon_job_release and by the thread that ran
 * it. Threads are started when a job finds none idle, up to MAX_THREADS;
 * past that, jobs wait in the queue.
 */
#include "core/work.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_THREADS 16

struct daimon_job {
	_Atomic int refs;
	_Atomic int cancelled;
	daimon_rt *rt;
	daimon_aid reply_to;
	uint64_t ref;
	daimon_job_fn fn;
	void *arg;
	void (*free_arg)(void *arg);
	struct daimon_job *next;
};

struct pool {
	daimon_rt *rt;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct daimon_job *head, *tail;
	pthread_t threads[MAX_THREADS];
	int nthreads, idle, queued, stop;
};

static void job_unref(struct daimon_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->free_arg)
		j->free_arg(j->arg);
	free(j);
}

int daimon_job_reply(daimon_rt *rt, daimon_aid from, daimon_aid to, uint64_t ref, int status, const char *text,
		     size_t len)
{
	return daimon_job_send(rt, from, to, DAIMON_MSG_JOB_DONE, ref, status, text, len);
}

int daimon_job_send(daimon_rt *rt, daimon_aid from, daimon_aid to, int type, uint64_t ref, int status, const char *text,
		    size_t len)
{
	size_t n = sizeof(daimon_job_done) + len + 1;
	daimon_job_done *d = daimon_xmalloc(n);
	d->ref = ref;
	d->status = status;
	d->len = len;
	memcpy(d->text, text, len);
	d->text[len] = 0;
	int rc = from ? daimon_send_from(rt, from, to, type, d, n) : daimon_send(rt, to, type, d, n);
	free(d);
	return rc;
}

static void run_job(struct daimon_job *j)
{
	daimon_buf out = DAIMON_BUF_INIT;
	int status = atomic_load(&j->cancelled) ? DAIMON_ECANCELLED : j->fn(j->arg, &out, &j->cancelled);
	daimon_job_reply(j->rt, 0, j->reply_to, j->ref, status, daimon_buf_cstr(&out), out.len);
	daimon_buf_release(&out);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (!p->head)
			break;
		struct daimon_job *j = p->head;
		p->queued--;
		if (!(p->head = j->next))
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		run_job(j);
		job_unref(j);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *pool_new(daimon_rt *rt)
{
	struct pool *p = daimon_xcalloc(1, sizeof(*p));
	p->rt = rt;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

/* Cancels what runs, drops what waits, joins the threads. */
static void pool_free(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	struct daimon_job *waiting = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	while (waiting) {
		struct daimon_job *next = waiting->next;
		job_unref(waiting);
		waiting = next;
	}
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

daimon_job *daimon_job_submit(daimon_rt *rt, daimon_aid reply_to, uint64_t ref, daimon_job_fn fn, void *arg,
			      void (*free_arg)(void *arg))
{
	struct pool *p = daimon_rt_service(rt, DAIMON_RT_SERVICE_WORK, pool_new, pool_free);
	struct daimon_job *j = daimon_xcalloc(1, sizeof(*j));
	atomic_init(&j->refs, 2);
	j->rt = rt;
	j->reply_to = reply_to;
	j->ref = ref;
	j->fn = fn;
	j->arg = arg;
	j->free_arg = free_arg;
	if (!p) { /* the runtime is going away, its pool gone already */
		atomic_store(&j->cancelled, 1);
		job_unref(j);
		return j;
	}
	pthread_mutex_lock(&p->mu);
	if (p->stop) { /* the runtime is going away */
		pthread_mutex_unlock(&p->mu);
		atomic_store(&j->cancelled, 1);
		job_unref(j);
		return j;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	if (p->queued > p->idle && p->nthreads < MAX_THREADS &&
	    pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
		p->nthreads++;
	else
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void daimon_job_cancel(daimon_job *job)
{
	if (job)
		atomic_store(&job->cancelled, 1);
}

void daimon_job_release(daimon_job *job)
{
	if (job)
		job_unref(job);
}
