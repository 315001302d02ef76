-- Infix text-search index of events (issue #6: a single rare word found in
-- < 300 ms on 10 million events). A one-word search matches anywhere
-- inside a token ("4242" in "seq=142420"), which the token index of
-- migration 0005 (ordered by whole tokens) answers only by reading every
-- token. event_suffixes holds, for every (suffix, site, hour), the suffixes
-- of at least 4 bytes of the tokens of that hour, so a word lies inside a
-- token exactly when it starts one of the token's suffixes: a primary-key
-- range read [word, word + 1) finds the hours in which it occurs. n counts
-- the (event, distinct token of the event) pairs behind a row, and
-- SummingMergeTree adds up the rows of a key (a re-inserted event counts
-- twice): the sum of n over the suffixes of a word in an hour is an upper
-- bound of the events of that hour that hold the word, with which the
-- console scans only as many of the newest hours as a page needs (see
-- services/console/query/events.go, textHours).
--
-- A lookup reads one index granule per day partition: 1024 rows (not the
-- default 8192) keep it small, for a primary index of 1 MiB in memory per
-- 30 million rows.
--
-- Tokens are those of migration 0005 (lowercased ASCII, runs of [a-z0-9],
-- cut to their first 64 bytes). A token of exactly 64 bytes may be the cut
-- prefix of a longer one that holds a word further on: it also gets a row
-- with the empty suffix, looked up by every infix search.
CREATE TABLE IF NOT EXISTS event_suffixes (
    suffix String,
    site String,
    hour DateTime,
    n UInt64
) ENGINE = SummingMergeTree(n)
PARTITION BY toDate(hour)
ORDER BY (suffix, site, hour)
SETTINGS index_granularity = 1024;

-- Filled by the server on every insert into events, in the same insert,
-- like event_tokens.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_suffixes_mv TO event_suffixes AS
SELECT
    arrayJoin(arrayConcat(
        arrayMap(i -> substring(token, i + 1), range(toUInt64(greatest(length(
            arrayJoin(arrayDistinct(arrayMap(x -> substring(x, 1, 64), extractAll(lower(concat(raw, ' ', message)), '[a-z0-9]+')))) AS token
        ), 3) - 3))),
        if(length(token) = 64, [''], emptyArrayString())
    )) AS suffix,
    site,
    toStartOfHour(time) AS hour,
    count() AS n
FROM events
GROUP BY suffix, site, hour;

-- Backfill the events stored before this migration: the events of every
-- (token, site, hour), then the token's suffixes (the table adds up the
-- rows of a suffix).
INSERT INTO event_suffixes (suffix, site, hour, n)
SELECT
    arrayJoin(arrayConcat(arrayMap(i -> substring(token, i + 1), range(toUInt64(greatest(length(token), 3) - 3))), if(length(token) = 64, [''], emptyArrayString()))) AS suffix,
    site,
    hour,
    n
FROM (
    SELECT
        arrayJoin(arrayDistinct(arrayMap(x -> substring(x, 1, 64), extractAll(lower(concat(raw, ' ', message)), '[a-z0-9]+')))) AS token,
        site,
        toStartOfHour(time) AS hour,
        count() AS n
    FROM events
    GROUP BY token, site, hour
);
