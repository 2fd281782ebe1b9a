-- Suspect sessions of the windows being computed (docs/metrics.md, "Cleaning: suspect sessions").
--
-- Inputs:
--   player, commerce — the windows' events, as for stream_minute.sql
--   history          — stream_id, region, window_start, window_end, sessions_started_raw of earlier
--                      windows: at least the 10 before the first window here, and the first window
--                      the stream had events in the region (empty when the events are a whole show)
--   probes           — one row per session whose session_start is in these windows: stream_id,
--                      region and window_start, window_end of that session_start, session_id,
--                      watch_ms (Σ play_ms + Σ stall_ms of its player events with ts in
--                      [start, start + 60 s]) and interacted (it sent a commerce/interaction event
--                      with ts in that range)
--   numbered         — the session starts per stream × region × window of the windows here and of
--                      `history` (stream_id, region, n, w): window_starts.sql over the inputs above
-- Output: stream_id, session_id of each suspect session.
--
-- A window's number is w = window_start / width, so "the 10 minutes before m" are windows
-- w − 10 … w − 1 and "the stream had events in that region at least 5 minutes before m" means its
-- first window there is ≤ w − 5 (1-minute windows; METRICS.md speaks in minutes).
WITH first_window AS (
    SELECT stream_id, region, min(w) AS w FROM numbered GROUP BY stream_id, region
),
-- At least 50 starts, and not the region's opening rush (first events < 5 minutes before).
candidates AS (
    SELECT m.stream_id, m.region, m.w, m.n
    FROM numbered m
    JOIN first_window f ON m.stream_id = f.stream_id AND m.region = f.region
    WHERE m.n >= 50 AND m.w - f.w >= 5
),
-- The 10 windows before each candidate; a window without events counts 0.
preceding AS (
    SELECT c.stream_id, c.region, c.w, c.n, CAST(coalesce(h.n, 0) AS DOUBLE) AS n_before
    FROM candidates c
    CROSS JOIN (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS back(k)
    LEFT JOIN numbered h
        ON h.stream_id = c.stream_id AND h.region = c.region AND h.w = c.w - back.k
),
-- Join spikes: sessions_started_raw ≥ max(50, 5 × median of the 10 windows before).
spikes AS (
    SELECT stream_id, region, w
    FROM preceding
    GROUP BY stream_id, region, w, n
    HAVING n >= 5 * median(n_before)
)
SELECT p.stream_id, p.session_id
FROM probes p
JOIN spikes s
    ON p.stream_id = s.stream_id AND p.region = s.region
   AND CAST(p.window_start AS BIGINT) / (CAST(p.window_end AS BIGINT) - CAST(p.window_start AS BIGINT)) = s.w
WHERE p.watch_ms < 10000 AND NOT p.interacted
ORDER BY p.stream_id, p.session_id
