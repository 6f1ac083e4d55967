-- A SQL script for sqlite3 under the drop-in malloc.
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000)
INSERT INTO t(name, grp, payload) SELECT printf('name-%06d', x), x % 97, zeroblob(x % 300) FROM c;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, name);
SELECT grp, count(*), sum(length(payload)), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 10;
UPDATE t SET name = name || '-x' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), count(DISTINCT grp), sum(id) FROM t;
SELECT group_concat(name, ',') FROM (SELECT name FROM t WHERE grp = 42 ORDER BY name LIMIT 20);
