-- stream_minute: one row per stream × region × window (shared/METRICS.md, "stream_minute").
--
-- Inputs, registered by the window operator for the windows that just became final:
--   player   — player_events rows (LAKE.md columns) + region, window_start, window_end
--   commerce — commerce_events rows (LAKE.md columns) + region, window_start, window_end
-- Only events of final windows that arrived before the window was final are here (late events
-- are stored raw and folded in by the nightly rollup).
--
-- Columns that need per-session state across windows (exits, exits_after_stall) and the cleaned
-- columns that need suspect-session detection (sessions_active, sessions_started) are NULL here
-- until the session-state operator provides them; every other column is exact. Percentiles are
-- exact (percentile_cont, linear interpolation, ~1e-7 relative rounding): a window holds few
-- enough values, and exact results do not depend on arrival order, which keeps restarts
-- reproducible.
WITH p AS (
    SELECT
        stream_id, region, window_start, window_end,
        count(DISTINCT session_id)                                          AS sessions_active_raw,
        count(*) FILTER (WHERE type = 'session_start')                      AS sessions_started_raw,
        coalesce(sum(play_ms), 0) / 1000.0                                  AS play_seconds,
        coalesce(sum(stall_ms), 0) / 1000.0                                 AS stall_seconds,
        count(*) FILTER (WHERE type = 'stall_end')                          AS stall_count,
        count(DISTINCT CASE WHEN type = 'stall_end' THEN session_id END)    AS sessions_stalled,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame')                             AS startup_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame')                             AS startup_ms_p95,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat')                               AS latency_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat')                               AS latency_ms_p95,
        percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat')                               AS latency_ms_p99,
        avg(CAST(bitrate_kbps AS DOUBLE)) FILTER (WHERE type = 'heartbeat') AS bitrate_kbps_avg,
        count(*) FILTER (WHERE type = 'error' AND fatal)                    AS fatal_errors
    FROM player
    GROUP BY stream_id, region, window_start, window_end
),
c AS (
    SELECT
        stream_id, region, window_start, window_end,
        count(*) FILTER (WHERE type = 'comment')                            AS comments,
        coalesce(sum(like_count) FILTER (WHERE type = 'like'), 0)           AS likes,
        count(*) FILTER (WHERE type = 'gift')                               AS gifts,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'gift'), 0)           AS gift_value_usd,
        count(*) FILTER (WHERE type = 'share')                              AS shares,
        count(*) FILTER (WHERE type = 'follow')                             AS follows,
        count(*) FILTER (WHERE type = 'product_click')                      AS product_clicks,
        count(*) FILTER (WHERE type = 'add_to_cart')                        AS add_to_carts,
        count(*) FILTER (WHERE type = 'order')                              AS orders,
        coalesce(sum(quantity) FILTER (WHERE type = 'order'), 0)            AS units,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'order'), 0)          AS gmv_usd,
        count(DISTINCT CASE WHEN type = 'order' THEN viewer_id END)         AS buyers
    FROM commerce
    GROUP BY stream_id, region, window_start, window_end
)
SELECT
    coalesce(p.stream_id, c.stream_id)                 AS stream_id,
    coalesce(p.window_start, c.window_start)           AS window_start,
    coalesce(p.window_end, c.window_end)               AS window_end,
    CAST(NULL AS BIGINT)                               AS sessions_active,
    coalesce(p.sessions_active_raw, 0)                 AS sessions_active_raw,
    CAST(NULL AS BIGINT)                               AS sessions_started,
    coalesce(p.sessions_started_raw, 0)                AS sessions_started_raw,
    CAST(NULL AS BIGINT)                               AS exits,
    CAST(NULL AS BIGINT)                               AS exits_after_stall,
    coalesce(p.play_seconds, 0.0)                      AS play_seconds,
    coalesce(p.stall_seconds, 0.0)                     AS stall_seconds,
    coalesce(p.stall_count, 0)                         AS stall_count,
    CASE WHEN p.play_seconds + p.stall_seconds > 0
         THEN p.stall_seconds / (p.play_seconds + p.stall_seconds) END           AS stall_ratio,
    CASE WHEN p.play_seconds + p.stall_seconds > 0
         THEN p.stall_count / ((p.play_seconds + p.stall_seconds) / 60.0) END    AS stalls_per_minute,
    coalesce(p.sessions_stalled, 0)                    AS sessions_stalled,
    p.startup_ms_p50, p.startup_ms_p95,
    p.latency_ms_p50, p.latency_ms_p95, p.latency_ms_p99,
    p.bitrate_kbps_avg,
    coalesce(p.fatal_errors, 0)                        AS fatal_errors,
    coalesce(c.comments, 0)                            AS comments,
    coalesce(c.likes, 0)                               AS likes,
    coalesce(c.gifts, 0)                               AS gifts,
    coalesce(c.gift_value_usd, 0)                      AS gift_value_usd,
    coalesce(c.shares, 0)                              AS shares,
    coalesce(c.follows, 0)                             AS follows,
    coalesce(c.product_clicks, 0)                      AS product_clicks,
    coalesce(c.add_to_carts, 0)                        AS add_to_carts,
    coalesce(c.orders, 0)                              AS orders,
    coalesce(c.units, 0)                               AS units,
    coalesce(c.gmv_usd, 0)                             AS gmv_usd,
    coalesce(c.buyers, 0)                              AS buyers,
    coalesce(p.region, c.region)                       AS region
FROM p
FULL OUTER JOIN c
    ON p.stream_id = c.stream_id AND p.region = c.region AND p.window_start = c.window_start
ORDER BY stream_id, window_start, region
