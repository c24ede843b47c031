/*
 * events_command.c
 *		`chatgenius-tunnel events [--follow] [--json]`: the running helper's
 *		events, from its status socket (status_socket.h): the last ones it
 *		keeps, or (--follow) each one as it happens until the helper stops,
 *		as `tail -f` follows a file.  One line per event, tunnel_events'
 *		fields (event_stream.h).  Exit codes as status's: 0 (the stream
 *		ended with the helper, or the kept events were printed), 2 not
 *		running, 3 unknown (no answer: another uid, or the helper is stuck).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "status_socket.h"

#define EVENTS_WAIT_MS	3000	/* how long the helper gets to answer at first */
#define EVENTS_NOT_RUNNING 2
#define EVENTS_UNKNOWN	3

/*
 * Reads the answer's first line ("follow" or "exit=0") into buf within
 * EVENTS_WAIT_MS, one byte at a time so that nothing after it is taken.
 * Returns 0, or -1 when none came.
 */
static int
read_first_line(int fd, char *buf, size_t len)
{
	int64_t		deadline = clock_now_ms() + EVENTS_WAIT_MS;
	size_t		have = 0;

	while (have + 1 < len && status_socket_wait(fd, POLLIN, deadline))
	{
		ssize_t		n = read(fd, buf + have, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (buf[have] == '\n')
		{
			buf[have] = '\0';
			return 0;
		}
		have++;
	}
	return -1;
}

/* Copies fd to stdout until it ends.  Returns 0, or 1 when stdout failed. */
static int
copy_out(int fd)
{
	char		buf[8192];

	for (;;)
	{
		ssize_t		n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (fwrite(buf, 1, (size_t) n, stdout) != (size_t) n || fflush(stdout) != 0)
			return 1;
	}
}

int
events_command(const tunnel_config *cfg)
{
	char		used[200];
	char		first[32];
	char		req[32];
	int			fd;
	int			rc;

	snprintf(req, sizeof(req), "%s %s\n", cfg->follow ? "follow" : "events", cfg->json ? "json" : "text");
	fd = status_socket_ask(cfg, req, used, sizeof(used));
	if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED))
	{
		fprintf(stderr, "chatgenius-tunnel: ");
		escape_print(stderr, cfg->tunnel_name, ESCAPE_TERMINAL);
		fprintf(stderr, " - not running (%s: %s)\n", used, strerror(errno));
		return EVENTS_NOT_RUNNING;
	}
	if (fd < 0)
	{
		fprintf(stderr, "chatgenius-tunnel: cannot ask the helper at %s: %s\n", used, strerror(errno));
		return EVENTS_UNKNOWN;
	}
	if (read_first_line(fd, first, sizeof(first)) != 0 ||
		strcmp(first, cfg->follow ? "follow" : "exit=0") != 0)
	{
		fprintf(stderr, "chatgenius-tunnel: the helper at %s gave no answer (uid not allowed, "
				"too many followers, or it is stuck)\n", used);
		close(fd);
		return EVENTS_UNKNOWN;
	}
	rc = copy_out(fd);
	close(fd);
	return rc;
}
