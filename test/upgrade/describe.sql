-- A catalog description of the extension chatgenius, one sorted line per
-- fact, free of OIDs and of table data: two databases whose descriptions
-- differ do not have the same extension.  Used by test/upgrade/check.t
-- (fresh install vs updated vs dumped and restored).
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only on
\pset footer off
WITH ext AS (
	SELECT e.oid, e.extversion, e.extconfig, e.extcondition, e.extnamespace, e.extowner,
		e.extrelocatable
	  FROM pg_extension e WHERE e.extname = 'chatgenius'
), members AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
	SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity,
		c.relforcerowsecurity, c.relreplident, c.relowner, c.relacl, c.relhasindex
	  FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), lines(line) AS (
	-- ACLs are printed as sorted lists: the grants count, not their order.
	SELECT 'extension version=' || extversion || ' schema=' || extnamespace::regnamespace
		|| ' owner=' || extowner::regrole || ' relocatable=' || extrelocatable
	  FROM ext
	UNION ALL
	SELECT 'schema ' || n.nspname || ' owner=' || n.nspowner::regrole || ' acl='
		|| coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(n.nspacl) x), '-')
	  FROM pg_namespace n, ext WHERE n.oid = ext.extnamespace
	UNION ALL
	SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid) FROM members m
	UNION ALL
	SELECT 'relation ' || r.relname || ' kind=' || r.relkind::text || ' persistence=' || r.relpersistence::text
		|| ' options=' || coalesce(r.reloptions::text, '-') || ' rls=' || r.relrowsecurity
		|| '/' || r.relforcerowsecurity || ' replident=' || r.relreplident::text
		|| ' owner=' || r.relowner::regrole || ' acl='
		|| coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(r.relacl) x), '-')
		|| ' comment=' || coalesce(obj_description(r.oid, 'pg_class'), '-')
	  FROM rels r
	UNION ALL
	SELECT 'column ' || r.relname || '.' || lpad(a.attnum::text, 3, '0') || ' ' || a.attname
		|| ' type=' || format_type(a.atttypid, a.atttypmod)
		|| ' notnull=' || a.attnotnull
		|| ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
		|| ' identity=' || coalesce(nullif(a.attidentity::text, ''), '-')
		|| ' generated=' || coalesce(nullif(a.attgenerated::text, ''), '-')
		|| ' collation=' || coalesce((SELECT collname FROM pg_collation WHERE oid = nullif(a.attcollation, 0)), '-')
		|| ' storage=' || a.attstorage::text || ' dropped=' || a.attisdropped
		|| ' acl=' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x), '-')
		|| ' comment=' || coalesce(col_description(r.oid, a.attnum), '-')
	  FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	UNION ALL
	SELECT 'constraint ' || r.relname || ' ' || c.conname || ' type=' || c.contype::text
		|| ' def=' || pg_get_constraintdef(c.oid)
		|| ' deferrable=' || c.condeferrable || '/' || c.condeferred
		|| ' validated=' || c.convalidated
		|| ' index=' || coalesce(nullif(c.conindid, 0)::regclass::text, '-')
	  FROM rels r JOIN pg_constraint c ON c.conrelid = r.oid
	UNION ALL
	SELECT 'index ' || r.relname || ' ' || pg_get_indexdef(i.indexrelid)
		|| ' unique=' || i.indisunique || ' primary=' || i.indisprimary
		|| ' clustered=' || i.indisclustered || ' valid=' || i.indisvalid
		|| ' replident=' || i.indisreplident
	  FROM rels r JOIN pg_index i ON i.indrelid = r.oid
	UNION ALL
	SELECT 'trigger ' || r.relname || ' ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
	  FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
	UNION ALL
	SELECT 'sequence ' || r.relname || ' type=' || s.seqtypid::regtype || ' start=' || s.seqstart
		|| ' increment=' || s.seqincrement || ' min=' || s.seqmin || ' max=' || s.seqmax
		|| ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
		|| ' owned_by=' || coalesce((SELECT d.refobjid::regclass || '.' || att.attname
			FROM pg_depend d JOIN pg_attribute att ON att.attrelid = d.refobjid AND att.attnum = d.refobjsubid
			WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
			  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-')
	  FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure || ' owner=' || p.proowner::regrole
		|| ' acl=' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(p.proacl) x), '-')
		|| ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
		|| ' def=' || replace(pg_get_functiondef(p.oid), E'\n', '\n')
	  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	UNION ALL
	SELECT 'type ' || t.oid::regtype || ' type=' || t.typtype::text || ' owner=' || t.typowner::regrole
		|| ' acl=' || coalesce(t.typacl::text, '-')
	  FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
	UNION ALL
	SELECT 'extconfig ' || cfg.oid::regclass || ' condition=' || coalesce(ext.extcondition[cfg.n], '<null>')
	  FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS cfg(oid, n)
	UNION ALL
	SELECT 'extconfig count=' || coalesce(cardinality(extconfig), 0) || '/'
		|| coalesce(cardinality(extcondition), 0)
	  FROM ext
	UNION ALL
	SELECT 'init_privs ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid)
		|| ' type=' || ip.privtype::text || ' privs='
		|| coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(ip.initprivs) x), '-')
	  FROM pg_init_privs ip
	 WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM members)
		OR (ip.classoid = 'pg_namespace'::regclass AND ip.objoid = (SELECT extnamespace FROM ext))
)
SELECT line FROM lines ORDER BY line COLLATE "C";
