-- C-981 ClickHouse users, least privilege (IEC 62443-4-2 FR2 use control, docs/SECURITY.md).
-- For ClickHouse with SQL-driven access control (20.x and later; the compose and Kubernetes
-- deployments use 24.8). Run as an administrator after `c981 migrate`; deploy/compose runs it
-- as the one-shot service clickhouse-users, replacing @WRITER_PASSWORD@ and @CONSOLE_PASSWORD@.
-- ClickHouse 18.16 (Debian) has no CREATE USER: use clickhouse-users.xml there.
--
--   c981_admin    migrations, retention (ALTER ... DROP PARTITION); created by the server's
--                 own configuration (CLICKHOUSE_USER/CLICKHOUSE_PASSWORD), never used by a stage.
--   c981_writer   the store stage: INSERT only. It also reads and (idempotently) creates the
--                 migrations ledger, because the store checks the migrations at start.
--   c981_console  the console API: SELECT only, read-only profile with time, memory and result
--                 limits.
-- Neither stage user may ALTER, DELETE, TRUNCATE, DROP or OPTIMIZE anything: the audit tables
-- (actions, incidents, dead_letters) and the events cannot be rewritten through C-981.

CREATE SETTINGS PROFILE IF NOT EXISTS c981_writer_profile SETTINGS
    max_execution_time = 120,
    max_memory_usage = 4000000000,
    max_insert_block_size = 1048576,
    max_concurrent_queries_for_user = 16;

CREATE SETTINGS PROFILE IF NOT EXISTS c981_console_profile SETTINGS
    readonly = 1 CONST,
    max_execution_time = 10,
    max_memory_usage = 2000000000,
    max_result_rows = 100000,
    result_overflow_mode = 'throw',
    max_result_bytes = 104857600,
    max_rows_to_read = 500000000,
    max_concurrent_queries_for_user = 32;

CREATE USER IF NOT EXISTS c981_writer
    IDENTIFIED WITH sha256_password BY '@WRITER_PASSWORD@'
    DEFAULT DATABASE c981
    SETTINGS PROFILE 'c981_writer_profile';

CREATE USER IF NOT EXISTS c981_console
    IDENTIFIED WITH sha256_password BY '@CONSOLE_PASSWORD@'
    DEFAULT DATABASE c981
    SETTINGS PROFILE 'c981_console_profile';

REVOKE ALL ON *.* FROM c981_writer;
REVOKE ALL ON *.* FROM c981_console;

GRANT INSERT ON c981.* TO c981_writer;
GRANT SELECT, CREATE TABLE ON c981.schema_migrations TO c981_writer;

GRANT SELECT ON c981.* TO c981_console;
