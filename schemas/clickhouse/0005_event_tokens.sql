-- Text-search index of events (issue #6: event search on 10 million events
-- in < 300 ms). ClickHouse 18.16 has no skip indexes, so a text search
-- without a time bound used to read the raw line and message of every
-- stored event. event_tokens is an inverted index at hour granularity: for
-- every (token, site, hour) that occurs in the events table it holds one
-- row (ReplacingMergeTree collapses the repeats), ordered by token, so the
-- console finds the hours in which a rare word occurs by a primary-key
-- range read and then scans only those hours of events (see
-- services/console/query/events.go, textAnchors).
--
-- The tokens contract, shared with the console's query side: the raw line
-- and the message are lowercased (ASCII only, as lower() does), split into
-- maximal runs of [a-z0-9]; every other byte (punctuation, space, any
-- non-ASCII byte) separates tokens; a token longer than 64 bytes is kept as
-- its first 64 bytes.
CREATE TABLE IF NOT EXISTS event_tokens (
    token String,
    site String,
    hour DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(hour)
ORDER BY (token, site, hour)
SETTINGS index_granularity = 8192;

-- Filled by the server on every insert into events (the store's writer, a
-- backfill, a test fixture alike), in the same insert: a row is indexed
-- whenever it is stored. GROUP BY collapses the repeats of one insert block.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_tokens_mv TO event_tokens AS
SELECT
    arrayJoin(arrayMap(x -> substring(x, 1, 64), extractAll(lower(concat(raw, ' ', message)), '[a-z0-9]+'))) AS token,
    site,
    toStartOfHour(time) AS hour
FROM events
GROUP BY token, site, hour;

-- Backfill the events stored before this migration (repeats are harmless:
-- the table collapses them and readers use DISTINCT).
INSERT INTO event_tokens (token, site, hour)
SELECT
    arrayJoin(arrayMap(x -> substring(x, 1, 64), extractAll(lower(concat(raw, ' ', message)), '[a-z0-9]+'))) AS token,
    site,
    toStartOfHour(time) AS hour
FROM events
GROUP BY token, site, hour;
