/*
 * aimock.c — see aimock.h.
 */
#include "tests/aimock.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test.h"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	return ntohs(a.sin_port);
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	daimon_buf_add(u, p, s * n);
	return s * n;
}

long aimock_get(const struct aimock *m, const char *path, daimon_buf *out)
{
	CURL *c = curl_easy_init();
	char url[256];
	snprintf(url, sizeof(url), "%s%s", m->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static int start(struct aimock *m, const char *fixtures, int chunk, int latency_ms, int strict)
{
	memset(m, 0, sizeof(*m));
	const char *peers = getenv("DAIMON_PEERS");
	char cli[512];
	snprintf(cli, sizeof(cli), "%s/node_modules/@copilotkit/aimock/dist/cli.js", peers ? peers : "tests/peers");
	if (access(cli, R_OK) < 0) {
		fprintf(stderr, "aimock is not installed at '%s': run scripts/setup.sh\n", cli);
		return -1;
	}
	snprintf(m->dir, sizeof(m->dir), "%s", test_tmpdir());
	char path[128];
	snprintf(path, sizeof(path), "%s/fixtures.json", m->dir);
	test_write(path, fixtures);
	m->port = free_port();
	snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", m->port);
	char port[16], c[16], l[16];
	snprintf(port, sizeof(port), "%d", m->port);
	snprintf(c, sizeof(c), "%d", chunk);
	snprintf(l, sizeof(l), "%d", latency_ms);
	m->pid = fork();
	if (m->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("node", "node", cli, "-h", "127.0.0.1", "-p", port, "-f", m->dir, "-c", c, "-l", l,
		       strict ? "--strict" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* up to 10 s for node to start */
		daimon_buf b = DAIMON_BUF_INIT;
		long st = aimock_get(m, "/health", &b);
		daimon_buf_release(&b);
		if (st == 200)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "aimock did not answer on port %d\n", m->port);
	aimock_stop(m);
	return -1;
}

int aimock_start(struct aimock *m, const char *fixtures, int chunk, int latency_ms)
{
	return start(m, fixtures, chunk, latency_ms, 0);
}

int aimock_start_strict(struct aimock *m, const char *fixtures, int chunk, int latency_ms)
{
	return start(m, fixtures, chunk, latency_ms, 1);
}

void aimock_stop(struct aimock *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}
