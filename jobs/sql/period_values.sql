-- The rollup's percentile pass (see period.sql): how often each value of startup_ms (first_frame
-- events) and latency_ms (heartbeats) occurs per stream × region × UTC date × source, without
-- suspect sessions. Every slice's exact percentiles, means and shares of these follow from the
-- counts, so the values themselves are never held.
-- Inputs: player (as registered for period.sql) and sessions (period_sessions.sql).
WITH v AS (
    SELECT session_key, region, day, 'startup_ms' AS metric, startup_ms AS value
    FROM player WHERE type = 'first_frame' AND startup_ms IS NOT NULL
    UNION ALL
    SELECT session_key, region, day, 'latency_ms', latency_ms
    FROM player WHERE type = 'heartbeat' AND latency_ms IS NOT NULL
)
SELECT s.stream_id, v.region, v.day, s.source, v.metric, v.value, count(*) AS n
FROM v
JOIN sessions s ON v.session_key = s.session_key
WHERE NOT s.suspect
GROUP BY s.stream_id, v.region, v.day, s.source, v.metric, v.value
