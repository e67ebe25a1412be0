/*
 * podlabel_test ROLE — call elector_podlabel_set(ROLE) once and print
 * "rc=STATUS err=MESSAGE" (environment as in core/podlabel.h). Driven by
 * tests/k8s/test_lease_podlabel.py against the API emulator.
 */
#include <stdio.h>

#include "podlabel.h"

int main(int argc, char **argv)
{
	char err[512] = "";
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: podlabel_test leader|follower\n");
		return 2;
	}
	rc = elector_podlabel_set(argv[1], err, sizeof err);
	printf("rc=%d err=%s\n", rc, err);
	return rc == 0 ? 0 : 1;
}
