-- N-gram text-search index of events, written by the store (issue #9: take
-- text indexing off the insert path). The materialized views of 0005
-- (event_tokens) and 0006 (event_suffixes) cost ClickHouse 18.16 25-100 us
-- of CPU per inserted event (every token, every suffix of every token, and
-- unique numbers in every line keep the rows per event high), against ~3 us
-- for the event row itself. They are replaced by event_grams, whose size
-- per (site, hour) is bounded independently of the event rate, filled by
-- the store's writer in Go (services/store/store/textindex.go) with only
-- the keys not yet written for the hour, and read by the console
-- (services/console/query/events.go, textHours).
--
-- Tokens, as before: the raw line and the message (raw, ' ', message) are
-- lowercased (ASCII only, as lower() does) and split into maximal runs of
-- [a-z0-9]; every other byte (punctuation, space, any non-ASCII byte)
-- separates tokens. Tokens are no longer cut at 64 bytes.
--
-- Keys (gram UInt32): every token gives
--   * a head key: its first min(4, length) bytes, big-endian in the high
--     bytes, zero bytes padding a token shorter than 4 bytes, with the top
--     bit set (bytes of a token are < 0x80, so the bit is free);
--   * for a token of at least 4 bytes, every 4-byte substring (4-gram),
--     big-endian, top bit clear.
-- A word of at least 4 bytes occurs inside a token of an hour only if all
-- its 4-grams occur in that hour; a token starts with a word only if the
-- head key of the word (its first 4 bytes, or the head keys in the range
-- of a shorter word) occurs too; a short token (< 4 bytes) is its own head
-- key. Distinct keys per (site, hour) are at most 2 x 36^4 + 36^3 + 36^2 +
-- 36, whatever the event rate (digit grams saturate at 10,000).
--
-- n counts the events of the hour that hold the key (the store's writer),
-- or the key's occurrences in the distinct tokens of each of them (this
-- migration's backfill: at least as many); SummingMergeTree adds the rows of a key up. It is a hint only: the
-- console takes, per (site, hour), the least sum(n) over a text's keys as
-- an upper bound of the hour's matches to decide how many hours to scan at
-- once, and the substring condition on the events decides every match. An
-- over-count (a re-inserted batch, the backfill's occurrences) scans more
-- hours than needed; an under-count (the writer's periodic count deltas
-- lost in a crash) scans fewer per query and takes more queries; neither
-- loses or adds a result. Every row has n >= 1 (SummingMergeTree would
-- delete a row whose n sums to 0): the presence of a key in an hour is a
-- row, and the writer inserts it before it acknowledges the events it
-- indexes.
--
-- A lookup reads one index granule per key and day partition: 1024 rows
-- (not the default 8192) keep it small.
CREATE TABLE IF NOT EXISTS event_grams (
    gram UInt32,
    site String,
    hour DateTime,
    n UInt64
) ENGINE = SummingMergeTree(n)
PARTITION BY toDate(hour)
ORDER BY (gram, site, hour)
SETTINGS index_granularity = 1024;

-- The server no longer indexes inserts. Upgrade every store process:
-- events stored after this statement by a store of an earlier release
-- (without the index writer) are found only by a search whose time window
-- holds them.
DROP TABLE IF EXISTS event_tokens_mv;
DROP TABLE IF EXISTS event_suffixes_mv;

-- Backfill the events stored before this migration: per distinct token of
-- an event, key 0 is its head, keys 1 .. length - 3 its 4-grams. It reads
-- every stored event once (slow on a large table; it runs once). Run
-- again, it doubles the counts, which only costs scan time.
INSERT INTO event_grams (gram, site, hour, n)
SELECT
    toUInt32(if(i = 0,
        bitOr(bitShiftLeft(reinterpretAsUInt32(reverse(substring(token, 1, 4))), 8 * (4 - least(length(token), 4))), 2147483648),
        reinterpretAsUInt32(reverse(substring(token, i, 4))))) AS gram,
    site,
    hour,
    count() AS n
FROM (
    SELECT
        token,
        site,
        hour,
        arrayJoin(range(toUInt64(greatest(length(token), 3) - 2))) AS i
    FROM (
        SELECT
            arrayJoin(arrayDistinct(extractAll(lower(concat(raw, ' ', message)), '[a-z0-9]+'))) AS token,
            site,
            toStartOfHour(time) AS hour
        FROM events
    )
)
GROUP BY gram, site, hour;

-- The old indexes are read by nothing now.
DROP TABLE IF EXISTS event_tokens;
DROP TABLE IF EXISTS event_suffixes;
