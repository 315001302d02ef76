package chstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MigrationsTable records the applied migrations: one row per version.
const MigrationsTable = "schema_migrations"

// Migration is one numbered schema file.
type Migration struct {
	// Version is the NNNN prefix of the file name.
	Version uint32
	// Name is the file name without the version prefix and extension.
	Name string
	// File is the path of the file in the migrations file system.
	File string
	// Statements are the SQL statements of the file, comments stripped.
	Statements []string
}

// ErrNewerSchema is returned by Migrate when the database records a
// migration this binary does not know (it was migrated by a newer release).
var ErrNewerSchema = errors.New("database schema is newer than this binary")

var migrationName = regexp.MustCompile(`^([0-9]{4})_([A-Za-z0-9_]+)\.sql$`)

// LoadMigrations reads the NNNN_name.sql files at the root of fsys, sorted
// by version. Any other *.sql name, a duplicate version, version 0 or a file
// without statements is an error.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("list migrations: no *.sql files at the root of the migrations file system")
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, f := range files {
		m := migrationName.FindStringSubmatch(path.Base(f))
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", f)
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		if v == 0 {
			return nil, fmt.Errorf("migration %s: version 0000 is reserved", f)
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migration %s: version %s already used by %s", f, m[1], prev)
		}
		seen[uint32(v)] = f
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", f, err)
		}
		stmts, err := SplitStatements(string(data))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", f, err)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", f)
		}
		out = append(out, Migration{Version: uint32(v), Name: m[2], File: f, Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SplitStatements strips -- and /* */ comments from sql and splits it on
// semicolons, ignoring both inside quoted strings and identifiers. Empty
// statements are dropped; an unterminated quote or comment is an error.
func SplitStatements(sql string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment at offset %d", i)
			}
			i += 2 + end + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			start := i
			cur.WriteByte(c)
			i++
			closed := false
			for ; i < len(sql); i++ {
				cur.WriteByte(sql[i])
				if sql[i] == '\\' && i+1 < len(sql) {
					i++
					cur.WriteByte(sql[i])
					continue
				}
				if sql[i] == c {
					closed = true
					break
				}
			}
			if !closed {
				return nil, fmt.Errorf("unterminated %c quote at offset %d", c, start)
			}
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return stmts, nil
}

// Applied returns the versions recorded in schema_migrations with their
// names (creating the table when missing).
func Applied(ctx context.Context, conn driver.Conn) (map[uint32]string, error) {
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+MigrationsTable+
		" (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version"); err != nil {
		return nil, fmt.Errorf("create %s: %w", MigrationsTable, err)
	}
	rows, err := conn.Query(ctx, "SELECT version, name FROM "+MigrationsTable)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var (
			v    uint32
			name string
		)
		if err := rows.Scan(&v, &name); err != nil {
			return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
		}
		out[v] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	return out, nil
}

// Migrate applies the migrations of fsys (NNNN_name.sql files at its root)
// that the database has not recorded yet, in version order, and records
// each in schema_migrations once all its statements succeeded. Re-running it
// applies nothing. It refuses to run (ErrNewerSchema) when the database
// records a version newer than the newest file, and fails when a recorded
// version's name differs from the file's. Statements should be idempotent
// (IF NOT EXISTS) so that a migration interrupted midway can be re-applied;
// ClickHouse has no transactional DDL.
func Migrate(ctx context.Context, conn driver.Conn, fsys fs.FS) error {
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return err
	}
	applied, err := Applied(ctx, conn)
	if err != nil {
		return err
	}
	latest := migs[len(migs)-1]
	for v, name := range applied {
		if v > latest.Version {
			return fmt.Errorf("%w: it records migration %04d_%s but the newest this binary knows is %04d_%s; run a C-981 release that includes it",
				ErrNewerSchema, v, name, latest.Version, latest.Name)
		}
	}
	for _, m := range migs {
		if name, ok := applied[m.Version]; ok {
			if name != m.Name {
				return fmt.Errorf("migration %04d: database records it as %q but the file is %s", m.Version, name, m.File)
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("apply migration %s statement %d: %w", m.File, i+1, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return fmt.Errorf("record migration %s: %w", m.File, err)
		}
	}
	return nil
}

// record inserts m into schema_migrations. (A plain INSERT ... VALUES with
// bound arguments is not accepted over the native protocol by ClickHouse
// 18.16; a one-row batch is.)
func record(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, InsertQuery(MigrationsTable, []string{"version", "name", "applied_at"}))
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	if err := b.Append(m.Version, m.Name, time.Now().UTC().Truncate(time.Second)); err != nil {
		return err
	}
	return b.Send()
}
