"""The schema against distribution by phone key (docs/scale.md): read from the catalog, not from memory.

A distributed table's primary key and unique constraints must include the distribution
column. A per-contact table is one whose every row has a phone_key (NOT NULL; a table where
it may be missing, like complaint_drafts, is keyed by something else and distributed by
that). Every per-contact table's primary key leads with phone_key (sql/0060); the only
unique keys without it are the lookup keys below, each of which docs/scale.md gives a
small lookup table of its own when the schema is distributed. A new table or constraint
that would stand in the way fails here.
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
      AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = 'phone_key' AND p.attnotnull)
      AND NOT EXISTS (
          SELECT 1 FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attname = 'phone_key' AND a.attnum = ANY(ix.indkey)
      )
    ORDER BY 1, 2
"""

# Lookups by something other than the phone key (docs/scale.md, "Lookup keys").
LOOKUP_KEYS = {
    ("attempts", "attempts_agency_id_idempotency_key_key"),  # an agency's Idempotency-Key for attempts
    ("contact_sessions", "contact_sessions_token_hash_key"),  # a contact's session token
    ("disputes", "disputes_ref_key"),  # the reference a contact or agency reads out
}


async def test_no_key_stands_in_the_way_of_distribution(conn: Connection) -> None:
    found = {(row["table_name"], row["index_name"]) for row in await conn.fetch(BLOCKING_DISTRIBUTION)}
    assert not {index for index in found if index[1].endswith("_pkey")}, "primary keys must include phone_key"
    new = found - LOOKUP_KEYS
    assert not new, f"these keys would stop distribution by phone_key (include phone_key, or see docs/scale.md): {new}"
    gone = LOOKUP_KEYS - found
    assert not gone, f"these lookup keys are gone: remove them from LOOKUP_KEYS and docs/scale.md: {gone}"


# Foreign keys from one per-contact table to another that do not carry the phone key: on Citus
# such a reference could cross shards.
CROSSING_REFERENCES = """
    SELECT c.conrelid::regclass::text AS table_name, c.conname AS constraint_name
    FROM pg_constraint c
    WHERE c.contype = 'f'
      AND EXISTS (
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attname = 'phone_key' AND a.attnotnull
      )
      AND NOT EXISTS (
          SELECT 1 FROM pg_attribute a
          WHERE a.attrelid = c.conrelid AND a.attname = 'phone_key' AND a.attnum = ANY(c.conkey)
      )
"""


async def test_references_between_contacts_tables_carry_the_phone_key(conn: Connection) -> None:
    assert [tuple(row) for row in await conn.fetch(CROSSING_REFERENCES)] == []
    # Not vacuous: the changes feed and the dispute events do reference per-contact tables.
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid IN ('permits'::regclass, 'disputes'::regclass)"
        )
        >= 3
    )


async def test_the_check_path_reads_only_tables_keyed_by_phone(conn: Connection) -> None:
    """Every per-contact table the check statement touches has a phone_key column to distribute by."""
    for table in ("rules", "checks", "permits"):
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'phone_key'", table
        ), table
