//! The rules that let the schema be distributed by tenant (docs/scaling.md): every table whose
//! rows each belong to a tenant (a NOT NULL bot_tenant_id) has that column in its primary key
//! and in every unique index, and a foreign key from such a table to another names the tenant
//! on both sides; with bot_tenant_id as Citus's distribution column, every key stays on one node.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;

    /// Tables of the extension's schema whose rows each belong to one tenant.
    const TENANT_TABLES: &str = "
        SELECT c.oid FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'bot_tenant_id' AND a.attnotnull AND NOT a.attisdropped
         WHERE c.relnamespace = 'alphadome'::regnamespace AND c.relkind IN ('r', 'p')";

    /// The primary keys and unique indexes of tenant tables without bot_tenant_id.
    fn keys_without_tenant() -> Option<String> {
        one::<String>(
            &format!(
                "SELECT string_agg(i.indexrelid::regclass::text, ', ' ORDER BY 1)
                   FROM pg_index i
                  WHERE i.indrelid IN ({TENANT_TABLES}) AND (i.indisprimary OR i.indisunique)
                    AND NOT EXISTS (SELECT FROM pg_attribute a
                                     WHERE a.attrelid = i.indrelid AND a.attname = 'bot_tenant_id'
                                       AND a.attnum = ANY (i.indkey::int2[]))"
            ),
            &[],
        )
    }

    #[pg_test]
    fn every_key_of_a_tenant_table_holds_its_tenant() {
        let broken = keys_without_tenant();
        assert_eq!(broken, None, "unique keys without bot_tenant_id");
        let tables = one::<i64>(&format!("SELECT count(*) FROM ({TENANT_TABLES}) t"), &[]).unwrap();
        assert!(tables >= 9, "the tenant tables are found ({tables})");
    }

    #[pg_test]
    fn foreign_keys_between_tenant_tables_name_the_tenant_on_both_sides() {
        let broken = one::<String>(
            &format!(
                "SELECT string_agg(f.conname || ' on ' || f.conrelid::regclass::text, ', ' ORDER BY 1)
                   FROM pg_constraint f
                  WHERE f.contype = 'f' AND f.conrelid IN ({TENANT_TABLES}) AND f.confrelid IN ({TENANT_TABLES})
                    AND NOT (EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = f.conrelid AND a.attname = 'bot_tenant_id'
                                                                AND a.attnum = ANY (f.conkey))
                             AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = f.confrelid AND a.attname = 'bot_tenant_id'
                                                                    AND a.attnum = ANY (f.confkey)))"
            ),
            &[],
        );
        assert_eq!(broken, None, "foreign keys that do not name the tenant");
        // And every foreign key to bot_tenants is on the tenant column itself.
        let to_tenants = one::<String>(
            "SELECT string_agg(f.conname, ', ') FROM pg_constraint f
              WHERE f.contype = 'f' AND f.confrelid = 'alphadome.bot_tenants'::regclass
                AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = f.conrelid AND a.attname = 'bot_tenant_id'
                                                           AND f.conkey = ARRAY[a.attnum])",
            &[],
        );
        assert_eq!(
            to_tenants, None,
            "foreign keys to bot_tenants on another column"
        );
    }

    /// The check itself fails on a table that breaks the rule.
    #[pg_test]
    fn a_tenant_table_keyed_without_its_tenant_is_caught() {
        run(
            "CREATE TABLE alphadome.bench_notes (id bigint PRIMARY KEY, bot_tenant_id uuid NOT NULL, note text)",
            &[],
        );
        assert_eq!(
            keys_without_tenant().as_deref(),
            Some("alphadome.bench_notes_pkey")
        );
    }
}
