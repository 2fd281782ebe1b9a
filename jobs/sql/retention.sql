-- Retention curve of a show (the report's chart): of the non-suspect sessions that started
-- watching, the share still watching k minutes after their first player event, per region and
-- for 'ALL'. A session's watching ends at its last view's end (the streaming job's session
-- rules: session_end, or its last player event before the timeout).
--
-- Inputs: player, exits, suspects — as registered for period.sql.
WITH started AS (
    SELECT p.stream_id, p.region, p.session_key, min(p.ts) AS started_at
    FROM player p
    LEFT JOIN suspects x ON p.session_key = x.session_key
    WHERE x.session_key IS NULL
    GROUP BY p.stream_id, p.region, p.session_key
),
ended AS (
    SELECT session_key, max(end_ts) AS ended_at FROM exits GROUP BY session_key
),
watched AS (
    SELECT s.stream_id, s.region,
           (CAST(e.ended_at AS BIGINT) - CAST(s.started_at AS BIGINT)) / 60000 AS whole_minutes
    FROM started s
    JOIN ended e ON e.session_key = s.session_key
),
sliced AS (
    SELECT stream_id, region, whole_minutes FROM watched
    UNION ALL
    SELECT stream_id, 'ALL' AS region, whole_minutes FROM watched
),
-- How many sessions watched each number of whole minutes: the curve follows from these counts.
watched_for AS (
    SELECT stream_id, region, whole_minutes, count(*) AS sessions FROM sliced GROUP BY stream_id, region, whole_minutes
),
totals AS (
    SELECT stream_id, region, max(whole_minutes) AS longest, sum(sessions) AS sessions
    FROM watched_for GROUP BY stream_id, region
)
SELECT w.stream_id, w.region, k.value AS minute,
       CAST(sum(CASE WHEN w.whole_minutes >= k.value THEN w.sessions ELSE 0 END) AS DOUBLE)
           / CAST(t.sessions AS DOUBLE)                                   AS retained
FROM watched_for w
JOIN totals t ON t.stream_id = w.stream_id AND t.region = w.region
CROSS JOIN generate_series(0, 1440) AS k
WHERE k.value <= t.longest + 1
GROUP BY w.stream_id, w.region, k.value, t.sessions
ORDER BY w.stream_id, w.region, minute
