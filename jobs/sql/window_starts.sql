-- Session starts per stream × region × window, the first step of finding suspect sessions
-- (suspects.sql, docs/metrics.md "Cleaning: suspect sessions"): the windows being computed, counted
-- from their events, and the earlier windows of `history`. Its result is suspects.sql's input
-- `numbered`, computed once (suspects.sql reads it three times).
--
-- Inputs (as described in suspects.sql): player, commerce, history.
-- Output: stream_id, region, n (sessions_started_raw) and w, the window's number
-- (window_start / width).
WITH started AS (
    SELECT stream_id, region, window_start, window_end,
           count(*) FILTER (WHERE type = 'session_start') AS sessions_started_raw
    FROM (
        SELECT stream_id, region, window_start, window_end, type FROM player
        UNION ALL
        SELECT stream_id, region, window_start, window_end, type FROM commerce
    ) AS events
    GROUP BY stream_id, region, window_start, window_end
    UNION ALL
    SELECT stream_id, region, window_start, window_end, sessions_started_raw FROM history
)
SELECT stream_id, region, sessions_started_raw AS n,
       CAST(window_start AS BIGINT) / (CAST(window_end AS BIGINT) - CAST(window_start AS BIGINT)) AS w
FROM started
