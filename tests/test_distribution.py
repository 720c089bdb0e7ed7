"""The schema against distribution by phone key (docs/scale.md): read from the catalog, not from memory.

A distributed table's primary key and unique constraints must include the distribution
column. Today's per-contact tables do not yet; this test names each constraint in the way,
so a new table or constraint cannot add to the list unnoticed, and the list shrinks (and
the test must be updated with docs/scale.md) as the schema is changed toward it.
"""

from __future__ import annotations

from registry.database import Connection

# Unique indexes of tables that hold a phone_key column, whose columns do not include it.
BLOCKING_DISTRIBUTION = """
    SELECT c.relname AS table_name, i.relname AS index_name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_index ix ON ix.indrelid = c.oid AND ix.indisunique
    JOIN pg_class i ON i.oid = ix.indexrelid
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = 'phone_key')
      AND NOT EXISTS (
          SELECT 1 FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attname = 'phone_key' AND a.attnum = ANY(ix.indkey)
      )
    ORDER BY 1, 2
"""

# What docs/scale.md says has to change before the per-contact tables can be distributed.
KNOWN = {
    ("attempts", "attempts_agency_id_idempotency_key_key"),
    ("attempts", "attempts_pkey"),
    ("checks", "checks_pkey"),
    ("contact_code_failures", "contact_code_failures_pkey"),
    ("contact_codes", "contact_codes_pkey"),
    ("contact_receipts", "contact_receipts_pkey"),
    ("contact_sessions", "contact_sessions_pkey"),
    ("contact_sessions", "contact_sessions_token_hash_key"),
    ("disputes", "disputes_pkey"),
    ("disputes", "disputes_ref_key"),
    ("permits", "permits_pkey"),
    ("rules", "rules_pkey"),
}


async def test_no_new_constraint_stands_in_the_way_of_distribution(conn: Connection) -> None:
    found = {(row["table_name"], row["index_name"]) for row in await conn.fetch(BLOCKING_DISTRIBUTION)}
    new = found - KNOWN
    assert not new, f"these keys would stop distribution by phone_key (include phone_key, or see docs/scale.md): {new}"
    fixed = KNOWN - found
    assert not fixed, f"these no longer block distribution: remove them from KNOWN and docs/scale.md: {fixed}"


async def test_the_check_path_reads_only_tables_keyed_by_phone(conn: Connection) -> None:
    """Every per-contact table the check statement touches has a phone_key column to distribute by."""
    for table in ("rules", "checks", "permits"):
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'phone_key'", table
        ), table
