-- The rollup's event pass (see period.sql): every event of both tables, and every view's end as a
-- pseudo-event, summed per session × viewer × region × UTC date (a session is of one stream) —
-- the cells every slice
-- of period.sql is a union of. Only counts, integer and decimal sums, minima and maxima: the
-- result does not depend on the order events are read in, so this pass runs on every core.
-- Inputs: player, commerce, exits (as registered for period.sql) and sessions (period_sessions.sql).
WITH events AS (
    SELECT session_key, viewer_key, region, day, ts, type, 'player' AS family,
           play_ms, stall_ms, CASE WHEN type = 'error' AND fatal THEN 1 ELSE 0 END AS fatal_error,
           CAST(NULL AS BIGINT) AS like_count, CAST(NULL AS BIGINT) AS quantity,
           CAST(NULL AS DECIMAL(18, 4)) AS amount_usd, 0 AS after_stall
    FROM player
    UNION ALL
    SELECT session_key, viewer_key, region, day, ts, type, 'commerce' AS family,
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 0,
           like_count, quantity, amount_usd, 0
    FROM commerce
    UNION ALL
    SELECT session_key, CAST(NULL AS BIGINT), region, day, end_ts AS ts, 'exit', 'exit',
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 0,
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS DECIMAL(18, 4)),
           CASE WHEN after_stall THEN 1 ELSE 0 END
    FROM exits
),
cells AS (
    SELECT session_key, viewer_key, region, day,
           count(*) FILTER (WHERE family = 'player')                          AS player_events,
           count(*) FILTER (WHERE family <> 'exit')                           AS events,
           sum(play_ms)                                                       AS play_ms,
           sum(stall_ms)                                                      AS stall_ms,
           count(*) FILTER (WHERE type = 'stall_end')                         AS stall_ends,
           count(*) FILTER (WHERE type = 'first_frame')                       AS first_frames,
           count(*) FILTER (WHERE type = 'session_start')                     AS starts,
           sum(fatal_error)                                                   AS fatal_errors,
           count(*) FILTER (WHERE type = 'exit')                              AS exits,
           sum(after_stall)                                                   AS exits_after_stall,
           count(*) FILTER (WHERE type = 'comment')                           AS comments,
           sum(like_count) FILTER (WHERE type = 'like')                       AS likes,
           count(*) FILTER (WHERE type = 'gift')                              AS gifts,
           sum(amount_usd) FILTER (WHERE type = 'gift')                       AS gift_value_usd,
           count(*) FILTER (WHERE type = 'share')                             AS shares,
           count(*) FILTER (WHERE type = 'follow')                            AS follows,
           count(*) FILTER (WHERE type IN ('comment', 'like', 'gift', 'share', 'follow')) AS engagements,
           count(*) FILTER (WHERE type = 'product_click')                     AS product_clicks,
           count(*) FILTER (WHERE type = 'add_to_cart')                       AS add_to_carts,
           count(*) FILTER (WHERE type = 'order')                             AS orders,
           sum(quantity) FILTER (WHERE type = 'order')                        AS units,
           sum(amount_usd) FILTER (WHERE type = 'order')                      AS gmv_usd,
           min(ts) FILTER (WHERE family <> 'exit')                            AS first_ts,
           max(ts) FILTER (WHERE family <> 'exit')                            AS last_ts
    FROM events
    GROUP BY session_key, viewer_key, region, day
)
SELECT s.stream_id, c.*, s.source, s.suspect
FROM cells c
JOIN sessions s ON c.session_key = s.session_key
