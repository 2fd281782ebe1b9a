-- The rollup's funnel pass (see period.sql): the steps of the ordered funnel — first_frame,
-- product_click, add_to_cart, order — of non-suspect sessions, one row per event with its
-- viewer, time, and stream × region × UTC date × source cell. Few events: the rest of a show
-- (heartbeats, stalls, comments, likes) never enters the funnel.
-- Inputs: player, commerce (as registered for period.sql) and sessions (period_sessions.sql).
WITH e AS (
    SELECT stream_id, session_id, viewer_id, region, ts, type FROM player WHERE type = 'first_frame'
    UNION ALL
    SELECT stream_id, session_id, viewer_id, region, ts, type FROM commerce
    WHERE type IN ('product_click', 'add_to_cart', 'order')
)
SELECT e.stream_id, e.viewer_id, e.region, CAST(CAST(e.ts AS DATE) AS VARCHAR) AS day, s.source, e.type, e.ts
FROM e
JOIN sessions s ON e.stream_id = s.stream_id AND e.session_id = s.session_id
WHERE NOT s.suspect
ORDER BY e.stream_id, e.viewer_id, e.type, e.ts, e.region, day, s.source
