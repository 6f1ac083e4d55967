-- A sqlite3 workload for recording: tables, indexes, joins, aggregates, sorts,
-- updates and deletes on generated rows (recursive CTEs, no outside data).
PRAGMA cache_size = -8000;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT, created INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, qty INTEGER, price REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO customers SELECT i, 'customer-' || i || '-' || hex(randomblob(4)), 'city-' || (i % 97), i * 37 % 1000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 80000)
INSERT INTO orders SELECT i, 1 + i * 7919 % 20000, 'item-' || (i % 503), 1 + i % 9, (i % 1000) / 10.0 FROM n;
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX customers_city ON customers(city);
SELECT city, count(*), round(sum(qty * price), 2) FROM customers JOIN orders ON orders.customer = customers.id
  GROUP BY city ORDER BY 3 DESC LIMIT 5;
SELECT item, count(DISTINCT customer) AS buyers FROM orders GROUP BY item ORDER BY buyers DESC, item LIMIT 5;
SELECT group_concat(name, ';') IS NOT NULL FROM (SELECT name FROM customers ORDER BY name DESC LIMIT 2000);
UPDATE orders SET price = price * 1.1 WHERE item LIKE 'item-1%';
DELETE FROM orders WHERE qty = 3;
CREATE TABLE summary AS SELECT customer, count(*) AS n, sum(qty) AS q, max(price) AS top FROM orders GROUP BY customer;
SELECT count(*), sum(n), sum(q) FROM summary;
SELECT a.city, b.city, count(*) FROM customers a JOIN customers b ON a.created = b.created AND a.id < b.id
  WHERE a.id % 10 = 0 GROUP BY a.city, b.city ORDER BY 3 DESC LIMIT 3;
