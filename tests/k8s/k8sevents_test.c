/*
 * k8sevents_test lease|pod N [released] — start core/k8sevents.c for the
 * election "evented" in namespace "default", record N events (became
 * leader / stopped leading, alternating, terms 1..N), optionally one
 * "released the lock", then stop ($K8SEVENTS_TEST_LINGER_MS after the
 * last record, default 0). Log lines go to stderr as "log: ...";
 * prints "rc=STATUS err=MESSAGE" when the start fails. Driven by
 * tests/k8s/test_lease_events.py against the API emulator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8sevents.h"

static void log_line(int level, const char *msg)
{
	fprintf(stderr, "log: %s %s\n", level ? "W" : "I", msg);
}

int main(int argc, char **argv)
{
	struct elector_k8sevents_config cfg = {"evented", "default", "node-a",
	                                       0, log_line};
	struct elector_k8sevents *ev = NULL;
	char err[512] = "";
	long n;

	if (argc < 3 ||
	    (strcmp(argv[1], "lease") != 0 && strcmp(argv[1], "pod") != 0)) {
		fprintf(stderr,
		        "usage: k8sevents_test lease|pod N [released]\n");
		return 2;
	}
	cfg.on_lease = strcmp(argv[1], "lease") == 0;
	n = strtol(argv[2], NULL, 10);
	if (elector_k8sevents_start(&cfg, &ev, err, sizeof err) != 0) {
		printf("rc=-1 err=%s\n", err);
		return 1;
	}
	for (long i = 1; i <= n; i++)
		elector_k8sevents_record(ev,
		                         (i % 2) ? ELECTOR_K8SEVENT_ACQUIRED
		                                 : ELECTOR_K8SEVENT_LOST,
		                         i);
	if (argc > 3 && strcmp(argv[3], "released") == 0)
		elector_k8sevents_record(ev, ELECTOR_K8SEVENT_RELEASED, n);
	const char *linger = getenv("K8SEVENTS_TEST_LINGER_MS");
	if (linger != NULL) {
		long ms = strtol(linger, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	elector_k8sevents_stop(ev);
	printf("rc=0 err=\n");
	return 0;
}
