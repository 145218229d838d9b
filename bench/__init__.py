"""The benchmark of the calendar: `python -m bench --size quick|full` (or `make bench`).

It seeds a large practice into a PostgreSQL database of its own (bench.seed), then measures
booking, conflicting booking, free-slot search and the clinic's day calendar, through the
services and over HTTP, against raw psycopg baselines on the same database (bench.measure,
bench.operations), and prints a table of median and p95 times, SQL queries per call and the
ratio to the baseline (bench.report). See bench/README.md.
"""
