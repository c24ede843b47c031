/*
 * event_names.c
 *		What event_list.h says of each event (see event_names.h), in one
 *		table built from its rows, and the comparison of extension versions
 *		that tells which events the installed extension takes.
 */
#include <stdlib.h>
#include <string.h>

#include "event_names.h"

static const struct
{
	const char *name;
	log_level	level;
	const char *since;
}			events[EVENT_COUNT] = {
#define EVENT_NAME(id, name, level, since) [id] = {name, level, since},
#include "event_list.h"
#undef EVENT_NAME
};

/* See event_names.h.  Returns the name, "unknown" for an id out of range. */
const char *
event_name(event_id id)
{
	return (unsigned) id < EVENT_COUNT ? events[id].name : "unknown";
}

/* See event_names.h.  Returns the level, LOG_WARN for an id out of range. */
log_level
event_level(event_id id)
{
	return (unsigned) id < EVENT_COUNT ? events[id].level : LOG_WARN;
}

/* See event_names.h.  Returns the version, "" for an id out of range. */
const char *
event_since(event_id id)
{
	return (unsigned) id < EVENT_COUNT ? events[id].since : "";
}

/* See event_names.h.  Returns true when name is listed. */
bool
event_by_name(const char *name, event_id *id)
{
	for (int i = 0; i < EVENT_COUNT; i++)
		if (strcmp(events[i].name, name) == 0)
		{
			*id = (event_id) i;
			return true;
		}
	return false;
}

/*
 * Compares two versions made of numbers separated by dots ("1.5" < "1.10").
 * Returns <0, 0 or >0 as a is older, the same or newer, or 0 when either
 * does not read that way (*ok is then false).
 */
static int
version_cmp(const char *a, const char *b, bool *ok)
{
	*ok = true;
	while (*a != '\0' || *b != '\0')
	{
		char	   *ea,
				   *eb;
		long		na = *a ? strtol(a, &ea, 10) : 0;
		long		nb = *b ? strtol(b, &eb, 10) : 0;

		if (*a == '\0')
			ea = (char *) a;
		if (*b == '\0')
			eb = (char *) b;
		if ((*a != '\0' && (ea == a || (*ea != '.' && *ea != '\0'))) ||
			(*b != '\0' && (eb == b || (*eb != '.' && *eb != '\0'))))
		{
			*ok = false;
			return 0;
		}
		if (na != nb)
			return na < nb ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
	}
	return 0;
}

/* See event_names.h.  Returns true when extversion takes the event. */
bool
event_taken_by(event_id id, const char *extversion)
{
	bool		ok;
	int			c;

	if (extversion == NULL)
		return true;
	c = version_cmp(event_since(id), extversion, &ok);
	return !ok || c <= 0;
}
