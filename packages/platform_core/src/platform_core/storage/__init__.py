"""The database plumbing every platform_core store shares.

`sqlite` opens SQLite files the way every SQLite backend needs them (its own
connection per operation, off the event loop, WAL, explicit transactions);
`postgres` opens psycopg connection pools with a bounded wait and creates a
schema once under an advisory lock. Each store keeps its own SQL, its own
error wording and its own interface: only the plumbing lives here.
"""
