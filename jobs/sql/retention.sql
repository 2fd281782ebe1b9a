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
-- Each session in its region and once more in 'ALL' (one scan of `watched`: a CTE read twice is
-- computed twice, and `started` reads every player event).
sliced AS (
    SELECT w.stream_id, CASE WHEN copy.all_regions THEN 'ALL' ELSE w.region END AS region, w.whole_minutes
    FROM watched w
    CROSS JOIN (VALUES (false), (true)) AS copy(all_regions)
),
-- How many sessions watched each number of whole minutes: the curve follows from these counts.
watched_for AS (
    SELECT stream_id, region, whole_minutes, count(*) AS sessions FROM sliced GROUP BY stream_id, region, whole_minutes
),
-- With the slice's longest watch and its sessions in all (over the same rows, not a second scan).
totals AS (
    SELECT stream_id, region, whole_minutes, sessions,
           max(whole_minutes) OVER (PARTITION BY stream_id, region) AS longest,
           sum(sessions) OVER (PARTITION BY stream_id, region)      AS total
    FROM watched_for
)
SELECT w.stream_id, w.region, k.value AS minute,
       CAST(sum(CASE WHEN w.whole_minutes >= k.value THEN w.sessions ELSE 0 END) AS DOUBLE)
           / CAST(w.total AS DOUBLE)                                      AS retained
FROM totals w
CROSS JOIN generate_series(0, 1440) AS k
WHERE k.value <= w.longest + 1
GROUP BY w.stream_id, w.region, k.value, w.total
ORDER BY w.stream_id, w.region, minute
