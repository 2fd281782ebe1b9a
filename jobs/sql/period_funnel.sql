-- The rollup's funnel pass (see period.sql): the steps of the ordered funnel — first_frame,
-- product_click, add_to_cart, order — of non-suspect sessions, one row per event with its
-- viewer, time, and stream × region × UTC date × source cell. Few events: the rest of a show
-- (heartbeats, stalls, comments, likes) never enters the funnel.
-- Inputs: player, commerce (as registered for period.sql) and sessions (period_sessions.sql).
WITH e AS (
    SELECT session_key, viewer_key, region, day, ts, type FROM player WHERE type = 'first_frame'
    UNION ALL
    SELECT session_key, viewer_key, region, day, ts, type FROM commerce
    WHERE type IN ('product_click', 'add_to_cart', 'order')
)
SELECT s.stream_id, e.viewer_key, e.region, e.day, s.source, e.type, e.ts
FROM e
JOIN sessions s ON e.session_key = s.session_key
WHERE NOT s.suspect
