/*
 * net-port.c - engine/net's port calls from the command line, for
 * tests/net-switch.t (a VM's TAP lives only as long as its fd, so `tap`
 * holds one open while a command looks at it).
 *
 *	net-port tap NAME BRIDGE VLAN CMD [ARG...]
 *		open TAP NAME (net_tap_open), attach it to BRIDGE in VLAN
 *		(net_port_attach), run CMD, close it; exits with CMD's status
 *	net-port vlan PORT VLAN		net_port_vlan
 *	net-port trunk PORT		net_port_trunk
 *	net-port names SWITCH VM SLOT	print net_bridge_name, net_tap_name
 *
 * Errors: one line "net-port: ..." on stderr, exit 1 (2: usage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/net/net.h"

static int
usage(void)
{
	fprintf(stderr, "net-port: usage: net-port tap NAME BRIDGE VLAN CMD [ARG...] | vlan PORT VLAN | trunk PORT | names SWITCH VM SLOT\n");
	return 2;
}

static int
fail(const struct hv_err *err)
{
	fprintf(stderr, "net-port: %s\n", err->msg);
	return 1;
}

static int
tap(char **argv)
{
	struct hv_err err;
	int fd, status;
	pid_t pid;

	if (net_tap_open(argv[0], &fd, &err) != 0)
		return fail(&err);
	if (net_port_attach(argv[0], argv[1], atoi(argv[2]), &err) != 0) {
		close(fd);
		return fail(&err);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("net-port: exec");
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("net-port: fork");
		close(fd);
		return 1;
	}
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int
main(int argc, char **argv)
{
	struct hv_err err;
	char br[NET_IFNAMSIZ], t[NET_IFNAMSIZ];

	if (argc >= 7 && strcmp(argv[1], "tap") == 0)
		return tap(argv + 2);
	if (argc == 4 && strcmp(argv[1], "vlan") == 0)
		return net_port_vlan(argv[2], atoi(argv[3]), &err) != 0 ? fail(&err) : 0;
	if (argc == 3 && strcmp(argv[1], "trunk") == 0)
		return net_port_trunk(argv[2], &err) != 0 ? fail(&err) : 0;
	if (argc == 5 && strcmp(argv[1], "names") == 0) {
		net_bridge_name(argv[2], br);
		net_tap_name(argv[3], atoi(argv[4]), t);
		printf("%s %s\n", br, t);
		return 0;
	}
	return usage();
}
