/*
 * spool.c
 *		The event spool (see spool.h): an in-memory queue guarded by one
 *		mutex, mirrored in an append-only file that is rewritten (temp file
 *		+ rename) whenever events leave the queue.  A lock file keeps two
 *		helpers with the same tunnel name from sharing one spool.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

static pthread_mutex_t spool_lock = PTHREAD_MUTEX_INITIALIZER;
static spool_event *queue;
static int	qlen;
static int	qcap;
static int	max_events = 10000;
static int64_t dropped;
static bool is_open;

static int	fd = -1;
static int	lock_fd = -1;
static char *file_path;
static bool needs_rewrite;		/* the file is out of step with the queue */
static bool warned_write;

static int64_t start_us;
static uint64_t seq;

static const char *const known_events[] = {
	"connected", "disconnected", "reconnecting", "reconnected",
	"health_check_failed", "pool_full", "maxRetriesExceeded", "stopped",
	"events_dropped", NULL
};

/* Microseconds since the epoch, from the real-time clock. */
static int64_t
now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Format a time as "YYYY-MM-DD HH:MM:SS.uuuuuu+00" into buf. */
static void
format_time(int64_t us, char *buf, size_t len)
{
	time_t		sec = (time_t) (us / 1000000);
	struct tm	tm;
	size_t		n;

	if (gmtime_r(&sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06u+00", (unsigned) (us % 1000000));
}

/* Whether name is one of the contract's event names. */
static bool
known_event(const char *name)
{
	int			i;

	for (i = 0; known_events[i]; i++)
		if (strcmp(known_events[i], name) == 0)
			return true;
	return false;
}

/* Free one event's detail. */
static void
event_free(spool_event *e)
{
	free(e->detail);
	e->detail = NULL;
}

/* Append a copy of e to the queue.  Returns 0, or -1 out of memory. */
static int
queue_push(const spool_event *e)
{
	spool_event *slot;

	if (qlen == qcap)
	{
		int			ncap = qcap ? qcap * 2 : 64;
		spool_event *nq = realloc(queue, (size_t) ncap * sizeof(*nq));

		if (nq == NULL)
			return -1;
		queue = nq;
		qcap = ncap;
	}
	slot = &queue[qlen];
	*slot = *e;
	slot->detail = strdup(e->detail ? e->detail : "");
	if (slot->detail == NULL)
		return -1;
	qlen++;
	return 0;
}

/*
 * Render e as one spool line (with its newline) in a malloc'd string.
 * Returns it, or NULL out of memory.
 */
static char *
render_line(const spool_event *e, size_t *lenp)
{
	size_t		dlen = strlen(e->detail);
	size_t		cap = strlen(e->key) + strlen(e->occurred_at) + strlen(e->event) + 2 * dlen + 16;
	char	   *line = malloc(cap);
	size_t		n;
	const char *p;

	if (line == NULL)
		return NULL;
	n = (size_t) snprintf(line, cap, "v1\t%s\t%s\t%s\t", e->key, e->occurred_at, e->event);
	for (p = e->detail; *p; p++)
	{
		switch (*p)
		{
			case '\\':
				line[n++] = '\\';
				line[n++] = '\\';
				break;
			case '\t':
				line[n++] = '\\';
				line[n++] = 't';
				break;
			case '\n':
				line[n++] = '\\';
				line[n++] = 'n';
				break;
			case '\r':
				line[n++] = '\\';
				line[n++] = 'r';
				break;
			default:
				line[n++] = *p;
				break;
		}
	}
	line[n++] = '\n';
	line[n] = '\0';
	*lenp = n;
	return line;
}

/* write(2) all of buf.  Returns 0, or -1 with errno set. */
static int
write_all(int wfd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(wfd, buf, len);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t) w;
	}
	return 0;
}

/* Warn once about a spool file that cannot be written. */
static void
warn_write(const char *what)
{
	char		q[1024];

	if (warned_write)
		return;
	warned_write = true;
	log_msg(LOG_WARN, "spool_unwritable", "file=%s op=%s error=%s detail=\"events kept in memory\"",
			log_quote(q, sizeof(q), file_path ? file_path : "-"), what, log_quote((char[256]) {0}, 256, strerror(errno)));
}

/*
 * Replace the file with the queue's contents (temp file, fsync, rename)
 * and reopen it for appending.  Returns 0, or -1 (needs_rewrite stays set).
 * Called with the lock held.
 */
static int
rewrite_file(void)
{
	char		tmp[4096];
	int			tfd;
	int			i;

	if (file_path == NULL)
		return -1;
	needs_rewrite = true;
	snprintf(tmp, sizeof(tmp), "%s.tmp", file_path);
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (tfd < 0)
	{
		warn_write("create");
		return -1;
	}
	for (i = 0; i < qlen; i++)
	{
		size_t		len;
		char	   *line = render_line(&queue[i], &len);

		if (line == NULL || write_all(tfd, line, len) != 0)
		{
			free(line);
			warn_write("write");
			close(tfd);
			unlink(tmp);
			return -1;
		}
		free(line);
	}
	if (fdatasync(tfd) != 0 || close(tfd) != 0)
	{
		warn_write("sync");
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, file_path) != 0)
	{
		warn_write("rename");
		unlink(tmp);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	fd = open(file_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
	{
		warn_write("open");
		return -1;
	}
	needs_rewrite = false;
	warned_write = false;
	return 0;
}

/* Append one event's line to the file (or rewrite it when out of step). */
static void
file_append(const spool_event *e)
{
	size_t		len;
	char	   *line;

	if (file_path == NULL)
		return;
	if (needs_rewrite || fd < 0)
	{
		rewrite_file();
		return;
	}
	line = render_line(e, &len);
	if (line == NULL || write_all(fd, line, len) != 0)
	{
		warn_write("append");
		needs_rewrite = true;
	}
	free(line);
}

/*
 * Parse one spool line (without its newline) into e (detail malloc'd).
 * Returns 0, or -1 when the line is not a valid record.
 */
static int
parse_line(char *line, spool_event *e)
{
	char	   *field[5];
	char	   *p = line;
	const char *pat = "dddd-dd-dd dd:dd:dd.dddddd+00";
	char	   *d;
	char	   *w;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char	   *tab = strchr(p, '\t');

		if (tab == NULL)
			return -1;
		*tab = '\0';
		field[i] = p;
		p = tab + 1;
	}
	field[4] = p;
	if (strchr(field[4], '\t') != NULL || strcmp(field[0], "v1") != 0)
		return -1;
	if (field[1][0] == '\0' || strlen(field[1]) >= SPOOL_KEY_MAX)
		return -1;
	for (p = field[1]; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' || *p == '.'))
			return -1;
	if (strlen(field[2]) != strlen(pat))
		return -1;
	for (i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? (field[2][i] < '0' || field[2][i] > '9') : field[2][i] != pat[i])
			return -1;
	if (!known_event(field[3]))
		return -1;

	d = malloc(strlen(field[4]) + 1);
	if (d == NULL)
		return -1;
	for (p = field[4], w = d; *p; p++)
	{
		if (*p != '\\')
		{
			*w++ = *p;
			continue;
		}
		p++;
		if (*p == '\\')
			*w++ = '\\';
		else if (*p == 't')
			*w++ = '\t';
		else if (*p == 'n')
			*w++ = '\n';
		else if (*p == 'r')
			*w++ = '\r';
		else
		{
			free(d);
			return -1;
		}
	}
	*w = '\0';
	snprintf(e->key, sizeof(e->key), "%s", field[1]);
	snprintf(e->occurred_at, sizeof(e->occurred_at), "%s", field[2]);
	snprintf(e->event, sizeof(e->event), "%s", field[3]);
	e->detail = d;
	return 0;
}

/*
 * Load the events an earlier run left in the file.  Returns how many
 * lines were skipped (corrupt or beyond the bound).
 */
static int
load_file(void)
{
	FILE	   *f = fopen(file_path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int			lineno = 0;
	int			skipped = 0;
	char		q[1024];

	if (f == NULL)
	{
		if (errno != ENOENT)
			warn_write("read");
		return 0;
	}
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		spool_event e;

		lineno++;
		if (len == 0 || line[len - 1] != '\n')
		{
			log_msg(LOG_WARN, "spool_corrupt_line", "file=%s line=%d reason=truncated",
					log_quote(q, sizeof(q), file_path), lineno);
			skipped++;
			continue;
		}
		line[len - 1] = '\0';
		memset(&e, 0, sizeof(e));
		if (parse_line(line, &e) != 0)
		{
			log_msg(LOG_WARN, "spool_corrupt_line", "file=%s line=%d reason=unparsable",
					log_quote(q, sizeof(q), file_path), lineno);
			skipped++;
			continue;
		}
		if (qlen >= max_events)
		{
			dropped++;
			skipped++;
		}
		else if (queue_push(&e) != 0)
		{
			dropped++;
			skipped++;
		}
		event_free(&e);
	}
	free(line);
	fclose(f);
	if (qlen > 0)
		log_msg(LOG_INFO, "spool_loaded", "file=%s events=%d",
				log_quote(q, sizeof(q), file_path), qlen);
	return skipped;
}

/* mkdir -p with mode 0700 for the folders it creates.  Returns 0 or -1. */
static int
make_dirs(const char *dir)
{
	char		buf[4096];
	char	   *p;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int) sizeof(buf))
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -1;
	if (stat(buf, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
	{
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * The spool file's name for a tunnel: the name with characters other than
 * [A-Za-z0-9._-] replaced by '_', plus a hash of the exact name (so that
 * two names that sanitise alike still get two files).
 */
static void
spool_file_name(const char *tunnel_name, char *buf, size_t len)
{
	uint32_t	h = 2166136261u;
	const unsigned char *p;
	char		safe[128];
	size_t		n = 0;

	for (p = (const unsigned char *) tunnel_name; *p; p++)
	{
		h = (h ^ *p) * 16777619u;
		if (n + 1 < sizeof(safe))
			safe[n++] = ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
						 (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-') ? (char) *p : '_';
	}
	safe[n] = '\0';
	snprintf(buf, len, "%s-%08" PRIx32 ".spool", safe, h);
}

/* Add an events_dropped record when events were dropped and room is back. */
static void
note_dropped(void)
{
	spool_event e;
	char		detail[64];

	if (dropped == 0 || qlen >= max_events)
		return;
	memset(&e, 0, sizeof(e));
	snprintf(detail, sizeof(detail), "count=%" PRId64, dropped);
	snprintf(e.key, sizeof(e.key), "%" PRId64 "-%d-%" PRIu64, start_us, (int) getpid(), ++seq);
	format_time(now_us(), e.occurred_at, sizeof(e.occurred_at));
	snprintf(e.event, sizeof(e.event), "events_dropped");
	e.detail = detail;
	log_event(LOG_WARN, "events_dropped", "count=%" PRId64, dropped);
	if (queue_push(&e) == 0)
	{
		dropped = 0;
		file_append(&queue[qlen - 1]);
	}
}

/* See spool.h.  Returns 0 with the file in use, -1 when memory-only. */
int
spool_open(const char *dir, const char *tunnel_name, int max)
{
	char		name[256];
	char		lock_path[4200];
	size_t		plen;
	int			skipped;
	char		q[1024];

	pthread_mutex_lock(&spool_lock);
	is_open = true;
	max_events = max > 0 ? max : 1;
	start_us = now_us();
	seq = 0;
	spool_file_name(tunnel_name, name, sizeof(name));

	if (dir == NULL || make_dirs(dir) != 0)
	{
		log_msg(LOG_WARN, "spool_unwritable", "dir=%s error=%s detail=\"events kept in memory\"",
				log_quote(q, sizeof(q), dir ? dir : "-"),
				log_quote((char[256]) {0}, 256, strerror(errno)));
		pthread_mutex_unlock(&spool_lock);
		return -1;
	}
	plen = strlen(dir) + strlen(name) + 2;
	file_path = malloc(plen);
	if (file_path == NULL)
	{
		pthread_mutex_unlock(&spool_lock);
		return -1;
	}
	snprintf(file_path, plen, "%s/%s", dir, name);
	snprintf(lock_path, sizeof(lock_path), "%s.lock", file_path);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		bool		busy = lock_fd >= 0 && errno == EWOULDBLOCK;

		log_msg(LOG_WARN, "spool_unwritable", "file=%s error=%s detail=\"events kept in memory\"",
				log_quote(q, sizeof(q), file_path),
				busy ? "\"another chatgenius-tunnel with this TUNNEL_NAME holds the spool\""
				: log_quote((char[256]) {0}, 256, strerror(errno)));
		if (lock_fd >= 0)
			close(lock_fd);
		lock_fd = -1;
		free(file_path);
		file_path = NULL;
		pthread_mutex_unlock(&spool_lock);
		return -1;
	}

	skipped = load_file();
	if (skipped > 0 || access(file_path, F_OK) != 0)
		rewrite_file();
	else
	{
		fd = open(file_path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
		{
			warn_write("open");
			needs_rewrite = true;
		}
	}
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
	return file_path != NULL && !needs_rewrite ? 0 : -1;
}

/* See spool.h: a reload changed TUNNEL_SPOOL_MAX.  Returns nothing. */
void
spool_set_max(int max)
{
	pthread_mutex_lock(&spool_lock);
	if (max > 0)
		max_events = max;
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
}

/* See spool.h.  Returns 0 when the event is kept, -1 when dropped. */
int
spool_add(const char *event, const char *detail)
{
	spool_event e;
	int			rc = 0;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "%s", event);
	e.detail = (char *) (detail ? detail : "");
	format_time(now_us(), e.occurred_at, sizeof(e.occurred_at));

	pthread_mutex_lock(&spool_lock);
	if (!is_open)
	{
		pthread_mutex_unlock(&spool_lock);
		return -1;
	}
	note_dropped();
	snprintf(e.key, sizeof(e.key), "%" PRId64 "-%d-%" PRIu64, start_us, (int) getpid(), ++seq);
	if (qlen >= max_events || queue_push(&e) != 0)
	{
		dropped++;
		rc = -1;
	}
	else
		file_append(&queue[qlen - 1]);
	pthread_mutex_unlock(&spool_lock);
	return rc;
}

/* See spool.h.  Returns how many events were copied into out. */
int
spool_peek(spool_event *out, int max)
{
	int			n = 0;
	int			i;

	pthread_mutex_lock(&spool_lock);
	for (i = 0; i < qlen && n < max; i++)
	{
		out[n] = queue[i];
		out[n].detail = strdup(queue[i].detail);
		if (out[n].detail == NULL)
			break;
		n++;
	}
	pthread_mutex_unlock(&spool_lock);
	return n;
}

/* Free the details of events copied by spool_peek.  Returns nothing. */
void
spool_events_free(spool_event *events, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		event_free(&events[i]);
}

/* See spool.h: the oldest n reached the database.  Returns nothing. */
void
spool_ack(int n)
{
	int			i;

	pthread_mutex_lock(&spool_lock);
	if (n > qlen)
		n = qlen;
	if (n > 0)
	{
		for (i = 0; i < n; i++)
			event_free(&queue[i]);
		memmove(queue, queue + n, (size_t) (qlen - n) * sizeof(*queue));
		qlen -= n;
		if (file_path != NULL)
			rewrite_file();
	}
	note_dropped();
	pthread_mutex_unlock(&spool_lock);
}

/* Returns the number of events not yet written to the database. */
int
spool_pending(void)
{
	int			n;

	pthread_mutex_lock(&spool_lock);
	n = qlen;
	pthread_mutex_unlock(&spool_lock);
	return n;
}

/* Returns whether the spool is open (run command), so events are kept. */
int
spool_is_open(void)
{
	int			o;

	pthread_mutex_lock(&spool_lock);
	o = is_open;
	pthread_mutex_unlock(&spool_lock);
	return o;
}

/* See spool.h: pending events stay in the file for the next run. */
void
spool_close(void)
{
	int			i;

	pthread_mutex_lock(&spool_lock);
	if (file_path != NULL && needs_rewrite)
		rewrite_file();
	for (i = 0; i < qlen; i++)
		event_free(&queue[i]);
	free(queue);
	queue = NULL;
	qlen = qcap = 0;
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
	free(file_path);
	file_path = NULL;
	is_open = false;
	needs_rewrite = false;
	warned_write = false;
	dropped = 0;
	pthread_mutex_unlock(&spool_lock);
}
