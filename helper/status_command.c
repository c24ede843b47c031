/*
 * status_command.c
 *		`chatgenius-tunnel status [--json]`: ask the running helper through
 *		its status socket (status_socket.h) and print its answer.  Exit codes
 *		as pg_isready's: 0 serving, 1 degraded or reconnecting (or any state
 *		but serving), 2 not running (no socket, nobody listening), 3 unknown
 *		(the question could not be asked or got no answer).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "status_socket.h"

#define STATUS_WAIT_MS	3000	/* how long the helper gets to answer */
#define STATUS_NOT_RUNNING 2
#define STATUS_UNKNOWN	3

/* Prints s as a JSON string.  Returns nothing. */
static void
print_json(const char *s)
{
	putchar('"');
	escape_print(stdout, s, ESCAPE_JSON);
	putchar('"');
}

/* Prints the report for a helper that is not there.  Returns 2. */
static int
not_running(const tunnel_config *cfg, const char *path, const char *why, bool json)
{
	if (json)
	{
		printf("{\"tunnel\": ");
		print_json(cfg->tunnel_name);
		printf(", \"status\": \"not running\", \"socket\": ");
		print_json(path);
		printf(", \"error\": ");
		print_json(why);
		printf("}\n");
	}
	else
	{
		escape_print(stdout, cfg->tunnel_name, ESCAPE_TERMINAL);
		printf(" - not running (");
		escape_print(stdout, path, ESCAPE_TERMINAL);
		printf(": %s)\n", why);
	}
	return STATUS_NOT_RUNNING;
}

/* Reads the whole answer into a malloc'd buffer.  Returns it, or NULL. */
static char *
read_answer(int fd)
{
	size_t		cap = 8192,
				have = 0;
	char	   *buf = malloc(cap);
	int64_t		deadline = clock_now_ms() + STATUS_WAIT_MS;

	while (buf != NULL && status_socket_wait(fd, POLLIN, deadline))
	{
		ssize_t		n;

		if (have + 1 >= cap)
		{
			char	   *more = realloc(buf, cap * 2);

			if (more == NULL)
				break;
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + have, cap - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			buf[have] = '\0';
			return buf;
		}
		have += (size_t) n;
	}
	free(buf);
	return NULL;
}

int
status_command(const tunnel_config *cfg)
{
	char		used[200];
	char	   *answer;
	const char *req = cfg->json ? "json\n" : "text\n";
	int			fd;
	int			code;

	fd = status_socket_ask(cfg, req, used, sizeof(used));
	if (fd < 0 && errno == ENAMETOOLONG)
	{
		fprintf(stderr, "chatgenius-tunnel: TUNNEL_STATE_DIR is too long for a unix socket: %s\n",
				cfg->state_dir);
		return STATUS_UNKNOWN;
	}
	if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED))
		return not_running(cfg, used, strerror(errno), cfg->json);
	if (fd < 0)
	{
		fprintf(stderr, "chatgenius-tunnel: cannot ask the helper at %s: %s\n", used, strerror(errno));
		return STATUS_UNKNOWN;
	}
	answer = read_answer(fd);
	close(fd);
	if (answer == NULL || strncmp(answer, "exit=", 5) != 0 || answer[5] < '0' || answer[5] > '9' ||
		answer[6] != '\n')
	{
		fprintf(stderr, "chatgenius-tunnel: the helper at %s gave no answer (uid not allowed, or it is stuck)\n",
				used);
		free(answer);
		return STATUS_UNKNOWN;
	}
	code = answer[5] - '0';
	/* escaped by the helper already; whatever is left is shown, not obeyed */
	escape_print(stdout, answer + 7, ESCAPE_TERMINAL_LINES);
	free(answer);
	return code;
}
