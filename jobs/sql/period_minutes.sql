-- The rollup's minute pass (see period.sql): per stream × session × region × UTC date × window,
-- whether the session counts as active there (a player event, not a suspect). Every window
-- with any event of the stream appears, so minutes with no active session count as 0.
-- Inputs: player, commerce (as registered for period.sql) and sessions (period_sessions.sql).
WITH m AS (
    SELECT session_key, region, day, window_start, true AS player FROM player
    UNION ALL
    SELECT session_key, region, day, window_start, false FROM commerce
),
g AS (
    SELECT session_key, region, day, window_start, bool_or(player) AS player
    FROM m
    GROUP BY session_key, region, day, window_start
)
SELECT s.stream_id, g.session_key, g.region, g.day, g.window_start, s.source,
       g.player AND NOT s.suspect AS active
FROM g
JOIN sessions s ON g.session_key = s.session_key
