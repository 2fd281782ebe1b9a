-- This show vs the previous five: the latest show's headline figures beside the median of the
-- five shows that started before it (all shows in the lake, by first minute).
WITH per_minute AS (
    SELECT
        stream_id,
        window_start,
        sum(sessions_started) AS started,
        sum(sessions_active)  AS active,
        sum(stall_seconds)    AS stall_s,
        sum(play_seconds)     AS play_s,
        sum(orders)           AS orders,
        sum(gmv_usd)          AS gmv_usd
    FROM stream_minute
    GROUP BY stream_id, window_start
),
shows AS (
    SELECT
        stream_id,
        CAST(sum(started) AS DOUBLE)                        AS sessions,
        CAST(max(active) AS DOUBLE)                         AS peak_viewers,
        sum(stall_s) / nullif(sum(play_s) + sum(stall_s), 0) AS stall_ratio,
        CAST(sum(orders) AS DOUBLE)                         AS orders,
        CAST(sum(gmv_usd) AS DOUBLE)                        AS gmv_usd,
        row_number() OVER (ORDER BY min(window_start) DESC, stream_id) AS recency
    FROM per_minute
    GROUP BY stream_id
),
figures AS (
    SELECT 1 AS pos, 'this show: ' || stream_id AS shows, sessions, peak_viewers, stall_ratio, orders, gmv_usd
    FROM shows
    WHERE recency = 1
    UNION ALL
    SELECT 2, 'median of the ' || CAST(count(*) AS VARCHAR) || ' before', median(sessions), median(peak_viewers),
           median(stall_ratio), median(orders), median(gmv_usd)
    FROM shows
    WHERE recency BETWEEN 2 AND 6
)
SELECT
    shows,
    sessions,
    peak_viewers,
    round(stall_ratio, 4) AS stall_ratio,
    orders,
    round(gmv_usd, 2)     AS gmv_usd
FROM figures
ORDER BY pos
