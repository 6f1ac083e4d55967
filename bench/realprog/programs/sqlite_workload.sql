-- SQL workload of bench_realprog: inserts, an index, grouping, string work,
-- a join and sorting on an in-memory database. Deterministic output.
CREATE TABLE items(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, value REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
INSERT INTO items SELECT i, i % 97, printf('item-%06d-%s', i, substr('abcdefghijklmnop', 1 + i % 16)), (i * 7919) % 10007 / 3.0 FROM n;
CREATE INDEX items_by_group ON items(grp, value);
CREATE TABLE groups(grp INTEGER PRIMARY KEY, label TEXT);
WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < 96)
INSERT INTO groups SELECT i, 'group ' || i || ' ' || hex(i * 31) FROM g;
SELECT grp, count(*), round(sum(value), 3), min(name), max(name) FROM items GROUP BY grp ORDER BY grp LIMIT 10;
SELECT g.label, count(*), round(avg(i.value), 4) FROM items i JOIN groups g ON g.grp = i.grp
  WHERE i.value > 1000 GROUP BY g.label ORDER BY 3 DESC LIMIT 10;
SELECT length(group_concat(upper(name), ',')) FROM (SELECT name FROM items ORDER BY value DESC, id LIMIT 50000);
UPDATE items SET name = replace(name, 'item', 'thing') WHERE id % 3 = 0;
DELETE FROM items WHERE id % 5 = 0;
SELECT count(*), sum(length(name)), count(DISTINCT substr(name, 1, 12)) FROM items;
SELECT name FROM items ORDER BY name DESC LIMIT 5;
