-- The rollup's percentile pass (see period.sql): how often each value of startup_ms (first_frame
-- events) and latency_ms (heartbeats) occurs per stream × region × UTC date × source, without
-- suspect sessions. Every slice's exact percentiles, means and shares of these follow from the
-- counts, so the values themselves are never held.
-- Inputs: player (as registered for period.sql) and sessions (period_sessions.sql).
WITH v AS (
    SELECT stream_id, session_id, region, ts, 'startup_ms' AS metric, startup_ms AS value
    FROM player WHERE type = 'first_frame' AND startup_ms IS NOT NULL
    UNION ALL
    SELECT stream_id, session_id, region, ts, 'latency_ms', latency_ms
    FROM player WHERE type = 'heartbeat' AND latency_ms IS NOT NULL
)
SELECT v.stream_id, v.region, CAST(CAST(v.ts AS DATE) AS VARCHAR) AS day, s.source, v.metric, v.value,
       count(*) AS n
FROM v
JOIN sessions s ON v.stream_id = s.stream_id AND v.session_id = s.session_id
WHERE NOT s.suspect
GROUP BY v.stream_id, v.region, CAST(CAST(v.ts AS DATE) AS VARCHAR), s.source, v.metric, v.value
ORDER BY v.stream_id, v.region, day, s.source, v.metric, v.value
