/*
 * A program embedding libelector, built against an installed tree with
 * pkg-config (tests/install/test_install.py): it joins an election on the
 * file store, waits until it leads, prints its term and what elector_status
 * says, stops (releasing the lease) and exits 0.
 *
 *   example STORE_PATH IDENTITY
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <elector/elector.h>

static atomic_llong started_term = -1;
static atomic_int stopped;

static void on_new_leader(void *ud, const char *id)
{
	printf("new leader: %s\n", id);
	fflush(stdout);
}

static void on_started(void *ud, int64_t term)
{
	atomic_store(&started_term, (long long)term);
}

static void on_stopped(void *ud)
{
	atomic_store(&stopped, 1);
}

int main(int argc, char **argv)
{
	struct elector_config cfg;
	struct elector_status_info st;
	struct elector *el;
	char opt[4096], err[512];
	const char *opts[1];
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: example STORE_PATH IDENTITY\n");
		return 2;
	}
	snprintf(opt, sizeof opt, "path=%s", argv[1]);
	opts[0] = opt;
	elector_config_init(&cfg);
	cfg.election = "lib-demo";
	cfg.identity = argv[2];
	cfg.lease_duration_ms = 2000;
	cfg.renew_deadline_ms = 1500;
	cfg.retry_period_ms = 500;
	cfg.backend_options = opts;
	cfg.n_backend_options = 1;
	cfg.on_new_leader = on_new_leader;
	cfg.on_started_leading = on_started;
	cfg.on_stopped_leading = on_stopped;
	if (elector_create(&cfg, &el, err, sizeof err) != ELECTOR_OK) {
		fprintf(stderr, "elector_create: %s\n", err);
		return 1;
	}
	if (elector_start(el) != ELECTOR_OK)
		return 1;
	for (i = 0; i < 500 && atomic_load(&started_term) < 0; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	elector_status(el, &st);
	printf("term %lld is_leader %d leader %s backend %s\n",
	       (long long)atomic_load(&started_term), st.is_leader, st.leader,
	       st.backend);
	if (elector_stop(el) != ELECTOR_OK)
		return 1;
	printf("stopped %d\n", atomic_load(&stopped));
	elector_destroy(el);
	return st.is_leader ? 0 : 1;
}
