-- stream_minute: one row per stream × region × window (docs/metrics.md, "stream_minute").
--
-- Inputs, registered by the window job for the windows being computed:
--   player    — player_events rows (LAKE.md columns) + region, window_start, window_end,
--               session_key
--   commerce  — commerce_events rows (LAKE.md columns) + region, window_start, window_end,
--               viewer_key
--               (session_key / viewer_key: an integer per (stream_id, session_id) / (stream_id,
--               viewer_id), given by the job: distinct sessions and buyers are counted on them,
--               the same counts as on the ids, cheaper; the job makes only these two, see
--               PLAYER_KEYS and COMMERCE_KEYS in window.rs)
--   exits     — one row per session whose end falls in these windows: stream_id, region (of the
--               event that ends it), session_id, window_start, window_end, after_stall (it had a
--               stall_start or stall_end in the 60 s up to its end)
--   suspects  — stream_id, session_id of the suspect sessions (suspects.sql)
-- In the streaming job these are the events that arrived before their window was final; late
-- events are stored raw and folded in by the rollup, which runs this same SQL over the raw tables.
--
-- Suspect sessions count in the `_raw` columns only. Percentiles are exact (percentile_cont,
-- linear interpolation, ~1e-7 relative rounding): a window holds few enough values, and exact
-- results do not depend on arrival order, which keeps restarts reproducible.
--
-- Every event is kept and flagged: `suspects RIGHT JOIN events` is `events LEFT JOIN suspects`
-- written with the few suspects first, so the join's hash table is built over them, not over
-- every event of the windows.
WITH pe AS (
    SELECT player.*, suspects.session_id IS NOT NULL AS suspect
    FROM suspects
    RIGHT JOIN player ON player.stream_id = suspects.stream_id AND player.session_id = suspects.session_id
),
ce AS (
    SELECT commerce.*, suspects.session_id IS NOT NULL AS suspect
    FROM suspects
    RIGHT JOIN commerce ON commerce.stream_id = suspects.stream_id AND commerce.session_id = suspects.session_id
),
p AS (
    SELECT
        stream_id, region, window_start, window_end,
        count(DISTINCT session_key)                                                 AS sessions_active_raw,
        count(DISTINCT CASE WHEN NOT suspect THEN session_key END)                  AS sessions_active,
        count(*) FILTER (WHERE type = 'session_start')                              AS sessions_started_raw,
        count(*) FILTER (WHERE type = 'session_start' AND NOT suspect)              AS sessions_started,
        coalesce(sum(play_ms) FILTER (WHERE NOT suspect), 0) / 1000.0               AS play_seconds,
        coalesce(sum(stall_ms) FILTER (WHERE NOT suspect), 0) / 1000.0              AS stall_seconds,
        count(*) FILTER (WHERE type = 'stall_end' AND NOT suspect)                  AS stall_count,
        count(DISTINCT CASE WHEN type = 'stall_end' AND NOT suspect THEN session_key END) AS sessions_stalled,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame' AND NOT suspect)                     AS startup_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame' AND NOT suspect)                     AS startup_ms_p95,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                       AS latency_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                       AS latency_ms_p95,
        percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                       AS latency_ms_p99,
        avg(CAST(bitrate_kbps AS DOUBLE)) FILTER (WHERE type = 'heartbeat' AND NOT suspect) AS bitrate_kbps_avg,
        count(*) FILTER (WHERE type = 'error' AND fatal AND NOT suspect)            AS fatal_errors
    FROM pe
    GROUP BY stream_id, region, window_start, window_end
),
-- Every commerce event's key, suspects' too (each column filters them out), so that `p` and `c`
-- together have the key of every event.
c AS (
    SELECT
        stream_id, region, window_start, window_end,
        count(*) FILTER (WHERE type = 'comment' AND NOT suspect)                    AS comments,
        coalesce(sum(like_count) FILTER (WHERE type = 'like' AND NOT suspect), 0)   AS likes,
        count(*) FILTER (WHERE type = 'gift' AND NOT suspect)                       AS gifts,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'gift' AND NOT suspect), 0)   AS gift_value_usd,
        count(*) FILTER (WHERE type = 'share' AND NOT suspect)                      AS shares,
        count(*) FILTER (WHERE type = 'follow' AND NOT suspect)                     AS follows,
        count(*) FILTER (WHERE type = 'product_click' AND NOT suspect)              AS product_clicks,
        count(*) FILTER (WHERE type = 'add_to_cart' AND NOT suspect)                AS add_to_carts,
        count(*) FILTER (WHERE type = 'order' AND NOT suspect)                      AS orders,
        coalesce(sum(quantity) FILTER (WHERE type = 'order' AND NOT suspect), 0)    AS units,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'order' AND NOT suspect), 0)  AS gmv_usd,
        count(DISTINCT CASE WHEN type = 'order' AND NOT suspect THEN viewer_key END) AS buyers
    FROM ce
    GROUP BY stream_id, region, window_start, window_end
),
x AS (
    SELECT
        exits.stream_id, exits.region, exits.window_start, exits.window_end,
        count(*)                                                                    AS exits,
        count(*) FILTER (WHERE exits.after_stall)                                   AS exits_after_stall
    FROM suspects
    RIGHT JOIN exits ON exits.stream_id = suspects.stream_id AND exits.session_id = suspects.session_id
    WHERE suspects.session_id IS NULL
    GROUP BY exits.stream_id, exits.region, exits.window_start, exits.window_end
)
-- One row per (stream, region, window) with an event: suspects' events too, so a window of bots
-- only still has its row (with its `_raw` columns). `p` groups every player event and `c` every
-- commerce event, so the keys are theirs (the events are not grouped a third time for them).
SELECT
    coalesce(p.stream_id, c.stream_id)                 AS stream_id,
    coalesce(p.window_start, c.window_start)           AS window_start,
    coalesce(p.window_end, c.window_end)               AS window_end,
    coalesce(p.sessions_active, 0)                     AS sessions_active,
    coalesce(p.sessions_active_raw, 0)                 AS sessions_active_raw,
    coalesce(p.sessions_started, 0)                    AS sessions_started,
    coalesce(p.sessions_started_raw, 0)                AS sessions_started_raw,
    coalesce(x.exits, 0)                               AS exits,
    coalesce(x.exits_after_stall, 0)                   AS exits_after_stall,
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
FULL JOIN c ON c.stream_id = p.stream_id AND c.region = p.region AND c.window_start = p.window_start
LEFT JOIN x ON x.stream_id = coalesce(p.stream_id, c.stream_id) AND x.region = coalesce(p.region, c.region)
    AND x.window_start = coalesce(p.window_start, c.window_start)
ORDER BY stream_id, window_start, region
