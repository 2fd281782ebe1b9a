-- Per-period metrics of the nightly rollup (docs/metrics.md, "stream_daily and show_summary"
-- and "show_sources"): one SQL for the three tables, which differ only in how events are sliced.
--
-- Inputs, registered by the rollup job for the streams being rolled up (whole shows):
--   player    — player_events rows (LAKE.md columns) + region, window_start, window_end;
--               deduplicated, late events included
--   commerce  — commerce_events rows, likewise
--   exits     — one row per view's end (the streaming job's session rules): stream_id, region (of
--               the event that ends it), session_id, end_ts, after_stall
--   suspects  — stream_id, session_id of the suspect sessions (suspects.sql)
--   scope     — one row, `kind`: 'daily'   → slice = region,             period = UTC date of ts
--                                 'show'    → slice = region, and 'ALL',  period = 'show'
--                                 'sources' → slice = the session's source, period = 'show'
-- Output: stream_id, slice, period, show_start, show_end, then every per-period column.
--
-- Readings of METRICS.md where it leaves a choice (the simulator's truth follows the same):
--   * sessions / sessions_raw / suspect_sessions and viewers count sessions and viewers with a
--     player event in the period (a view is a playback session).
--   * the period's minutes are the windows holding any event of the period (the stream_minute
--     rows); concurrency in a minute = distinct non-suspect sessions with a player event in it.
--   * show_start / show_end = first / last event of the stream (any region, suspects included);
--     each viewer's watch time is capped at that duration.
--   * a session's smoothness needs watch time: a session with a first_frame but no watch time in
--     the period has no score and is left out of the mean.
--   * a session's source is the `source` of its session_start; none → 'unknown'.
-- Ratios with a zero denominator are NULL (CASE without ELSE). Percentiles are exact
-- (percentile_cont, linear interpolation), as in stream_minute.sql.
WITH src AS (
    SELECT stream_id, session_id,
           coalesce(max(source) FILTER (WHERE type = 'session_start'), 'unknown') AS source
    FROM player
    GROUP BY stream_id, session_id
),
-- Every event of both tables, and every view's end as a pseudo-event of family 'exit', in the
-- columns the metrics read.
events AS (
    SELECT stream_id, session_id, viewer_id, region, ts, window_start, type, 'player' AS family,
           play_ms, stall_ms, startup_ms, latency_ms, coalesce(fatal, false) AS fatal,
           CAST(NULL AS BIGINT) AS like_count, CAST(NULL AS BIGINT) AS quantity,
           CAST(NULL AS DECIMAL(18, 4)) AS amount_usd, false AS after_stall
    FROM player
    UNION ALL
    SELECT stream_id, session_id, viewer_id, region, ts, window_start, type, 'commerce' AS family,
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), false,
           like_count, quantity, amount_usd, false
    FROM commerce
    UNION ALL
    SELECT stream_id, session_id, CAST(NULL AS VARCHAR), region, end_ts AS ts, end_ts AS window_start, 'exit', 'exit',
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), false,
           CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS DECIMAL(18, 4)), after_stall
    FROM exits
),
shows AS (
    SELECT stream_id, min(ts) AS show_start, max(ts) AS show_end FROM events WHERE family <> 'exit' GROUP BY stream_id
),
-- Each event in its slice and period; for 'show', once more in the slice 'ALL'.
t AS (
    SELECT e.*,
           s.session_id IS NOT NULL AS suspect,
           CASE WHEN copy.all_regions THEN 'ALL'
                WHEN scope.kind = 'sources' THEN coalesce(src.source, 'unknown')
                ELSE e.region END                                                      AS slice,
           CASE WHEN scope.kind = 'daily' THEN CAST(CAST(e.ts AS DATE) AS VARCHAR) ELSE 'show' END AS period
    FROM events e
    CROSS JOIN scope
    JOIN (VALUES (false), (true)) AS copy(all_regions) ON NOT copy.all_regions OR scope.kind = 'show'
    LEFT JOIN suspects s ON e.stream_id = s.stream_id AND e.session_id = s.session_id
    LEFT JOIN src ON e.stream_id = src.stream_id AND e.session_id = src.session_id
),
clean AS (
    SELECT * FROM t WHERE NOT suspect
),
p AS (
    SELECT stream_id, slice, period,
        count(DISTINCT CASE WHEN family = 'player' AND NOT suspect THEN session_id END)  AS sessions,
        count(DISTINCT CASE WHEN family = 'player' THEN session_id END)                  AS sessions_raw,
        count(DISTINCT CASE WHEN family = 'player' AND suspect THEN session_id END)      AS suspect_sessions,
        count(DISTINCT CASE WHEN family = 'player' AND NOT suspect THEN viewer_id END)   AS viewers,
        coalesce(sum(play_ms) FILTER (WHERE NOT suspect), 0) / 1000.0                    AS play_seconds,
        coalesce(sum(stall_ms) FILTER (WHERE NOT suspect), 0) / 1000.0                   AS stall_seconds,
        count(*) FILTER (WHERE type = 'stall_end' AND NOT suspect)                       AS stall_count,
        count(DISTINCT CASE WHEN type = 'stall_end' AND NOT suspect THEN session_id END) AS sessions_stalled,
        count(DISTINCT CASE WHEN type = 'first_frame' AND NOT suspect THEN session_id END) AS sessions_first_frame,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame' AND NOT suspect)                          AS startup_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(startup_ms AS DOUBLE))
            FILTER (WHERE type = 'first_frame' AND NOT suspect)                          AS startup_ms_p95,
        count(*) FILTER (WHERE type = 'first_frame' AND NOT suspect)                     AS first_frames,
        count(*) FILTER (WHERE type = 'first_frame' AND NOT suspect AND startup_ms <= 1000) AS fast_starts,
        avg(100.0 * 8 / (8 + startup_ms / 1000.0)) FILTER (WHERE type = 'first_frame' AND NOT suspect) AS startup_score,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                            AS latency_ms_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                            AS latency_ms_p95,
        percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE))
            FILTER (WHERE type = 'heartbeat' AND NOT suspect)                            AS latency_ms_p99,
        count(*) FILTER (WHERE type = 'exit' AND NOT suspect)                            AS exits,
        count(*) FILTER (WHERE type = 'exit' AND NOT suspect AND after_stall)            AS exits_after_stall,
        count(*) FILTER (WHERE type = 'comment' AND NOT suspect)                         AS comments,
        coalesce(sum(like_count) FILTER (WHERE type = 'like' AND NOT suspect), 0)        AS likes,
        count(*) FILTER (WHERE type = 'gift' AND NOT suspect)                            AS gifts,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'gift' AND NOT suspect), 0)        AS gift_value_usd,
        count(*) FILTER (WHERE type = 'share' AND NOT suspect)                           AS shares,
        count(*) FILTER (WHERE type = 'follow' AND NOT suspect)                          AS follows,
        count(DISTINCT CASE WHEN type IN ('comment', 'like', 'gift', 'share', 'follow') AND NOT suspect
                            THEN viewer_id END)                                          AS engaged_viewers,
        count(*) FILTER (WHERE type = 'product_click' AND NOT suspect)                   AS product_clicks,
        count(*) FILTER (WHERE type = 'add_to_cart' AND NOT suspect)                     AS add_to_carts,
        count(*) FILTER (WHERE type = 'order' AND NOT suspect)                           AS orders,
        coalesce(sum(quantity) FILTER (WHERE type = 'order' AND NOT suspect), 0)         AS units,
        coalesce(sum(amount_usd) FILTER (WHERE type = 'order' AND NOT suspect), 0)       AS gmv_usd,
        count(DISTINCT CASE WHEN type = 'order' AND NOT suspect THEN viewer_id END)      AS buyers
    FROM t
    GROUP BY stream_id, slice, period
),
-- Concurrency: per minute of the period, distinct non-suspect sessions with a player event.
minutes AS (
    SELECT stream_id, slice, period, window_start,
           count(DISTINCT CASE WHEN family = 'player' AND NOT suspect THEN session_id END) AS active
    FROM t
    WHERE family <> 'exit'
    GROUP BY stream_id, slice, period, window_start
),
concurrency AS (
    SELECT stream_id, slice, period, max(active) AS peak_concurrent, avg(CAST(active AS DOUBLE)) AS avg_concurrent
    FROM minutes
    GROUP BY stream_id, slice, period
),
-- Per session: start, first frame, fatal error, stalls and watch time in the period.
sessions AS (
    SELECT stream_id, slice, period, session_id,
           bool_or(type = 'session_start')                AS started,
           bool_or(type = 'first_frame')                  AS first_frame,
           bool_or(type = 'error' AND fatal)              AS failed,
           count(*) FILTER (WHERE type = 'stall_end')     AS stalls,
           coalesce(sum(stall_ms), 0)                     AS stall_ms,
           coalesce(sum(play_ms), 0) + coalesce(sum(stall_ms), 0) AS watch_ms
    FROM clean
    WHERE family = 'player'
    GROUP BY stream_id, slice, period, session_id
),
session_scores AS (
    SELECT stream_id, slice, period,
           count(*) FILTER (WHERE started)                                       AS started,
           count(*) FILTER (WHERE started AND NOT first_frame AND NOT failed)    AS ebvs,
           count(*) FILTER (WHERE failed)                                        AS failed,
           -- Mux's Smoothness Score: c = stall count, p = stall share of watch time.
           avg(CASE WHEN watch_ms > 0 THEN
                   (100.0 / sqrt(1.0 + power(stalls / 2.0, 2))
                    + 100.0 * exp(-10.0 * CAST(stall_ms AS DOUBLE) / watch_ms)) / 2.0 END)
               FILTER (WHERE first_frame)                                        AS smoothness_score
    FROM sessions
    GROUP BY stream_id, slice, period
),
-- Per viewer: watch time, and the ordered funnel first_frame → click → cart → order.
viewers AS (
    SELECT stream_id, slice, period, viewer_id,
           bool_or(family = 'player')                                   AS watched,
           coalesce(sum(play_ms), 0) + coalesce(sum(stall_ms), 0)       AS watch_ms,
           min(ts) FILTER (WHERE type = 'first_frame')                  AS first_frame_at
    FROM clean
    WHERE family <> 'exit'
    GROUP BY stream_id, slice, period, viewer_id
),
clicked AS (
    SELECT v.stream_id, v.slice, v.period, v.viewer_id, min(e.ts) AS clicked_at
    FROM viewers v
    JOIN clean e ON e.stream_id = v.stream_id AND e.slice = v.slice AND e.period = v.period
                AND e.viewer_id = v.viewer_id AND e.type = 'product_click' AND e.ts >= v.first_frame_at
    GROUP BY v.stream_id, v.slice, v.period, v.viewer_id
),
carted AS (
    SELECT c.stream_id, c.slice, c.period, c.viewer_id, min(e.ts) AS carted_at
    FROM clicked c
    JOIN clean e ON e.stream_id = c.stream_id AND e.slice = c.slice AND e.period = c.period
                AND e.viewer_id = c.viewer_id AND e.type = 'add_to_cart' AND e.ts >= c.clicked_at
    GROUP BY c.stream_id, c.slice, c.period, c.viewer_id
),
ordered AS (
    SELECT DISTINCT c.stream_id, c.slice, c.period, c.viewer_id
    FROM carted c
    JOIN clean e ON e.stream_id = c.stream_id AND e.slice = c.slice AND e.period = c.period
                AND e.viewer_id = c.viewer_id AND e.type = 'order' AND e.ts >= c.carted_at
),
funnel AS (
    SELECT v.stream_id, v.slice, v.period,
           count(*) FILTER (WHERE v.first_frame_at IS NOT NULL) AS funnel_viewers,
           count(c.viewer_id)                                   AS funnel_clicked,
           count(a.viewer_id)                                   AS funnel_carted,
           count(o.viewer_id)                                   AS funnel_ordered,
           sum(CASE WHEN v.watched THEN least(v.watch_ms, CAST(sh.show_end AS BIGINT) - CAST(sh.show_start AS BIGINT))
                    END) / 1000.0                               AS capped_watch_seconds
    FROM viewers v
    JOIN shows sh ON sh.stream_id = v.stream_id
    LEFT JOIN clicked c ON c.stream_id = v.stream_id AND c.slice = v.slice AND c.period = v.period AND c.viewer_id = v.viewer_id
    LEFT JOIN carted a ON a.stream_id = v.stream_id AND a.slice = v.slice AND a.period = v.period AND a.viewer_id = v.viewer_id
    LEFT JOIN ordered o ON o.stream_id = v.stream_id AND o.slice = v.slice AND o.period = v.period AND o.viewer_id = v.viewer_id
    GROUP BY v.stream_id, v.slice, v.period
),
m AS (
    SELECT p.*, sh.show_start, sh.show_end, k.peak_concurrent, k.avg_concurrent,
           s.started, s.ebvs, s.failed, s.smoothness_score,
           f.funnel_viewers, f.funnel_clicked, f.funnel_carted, f.funnel_ordered, f.capped_watch_seconds,
           p.play_seconds + p.stall_seconds AS watch_seconds,
           -- Exits beyond what the stalled sessions would show at the average exit rate.
           CASE WHEN p.sessions > 0 THEN greatest(0.0,
               p.exits_after_stall - CAST(p.sessions_stalled AS DOUBLE) * p.exits / p.sessions) END AS stall_exit_excess
    FROM p
    JOIN shows sh ON sh.stream_id = p.stream_id
    LEFT JOIN concurrency k ON k.stream_id = p.stream_id AND k.slice = p.slice AND k.period = p.period
    LEFT JOIN session_scores s ON s.stream_id = p.stream_id AND s.slice = p.slice AND s.period = p.period
    LEFT JOIN funnel f ON f.stream_id = p.stream_id AND f.slice = p.slice AND f.period = p.period
)
SELECT
    m.stream_id, m.slice, m.period, m.show_start, m.show_end,
    m.sessions, m.sessions_raw, m.suspect_sessions, m.viewers,
    coalesce(m.peak_concurrent, 0)                                              AS peak_concurrent,
    m.avg_concurrent,
    m.watch_seconds, m.play_seconds, m.stall_seconds, m.stall_count,
    CASE WHEN m.watch_seconds > 0 THEN m.stall_seconds / m.watch_seconds END    AS stall_ratio,
    CASE WHEN m.watch_seconds > 0 THEN m.stall_count / (m.watch_seconds / 60.0) END AS stalls_per_minute,
    CASE WHEN m.viewers > 0 THEN m.capped_watch_seconds / m.viewers END         AS avg_watch_seconds,
    CASE WHEN m.sessions_first_frame > 0
         THEN CAST(m.sessions_stalled AS DOUBLE) / m.sessions_first_frame END   AS stalled_session_pct,
    m.startup_ms_p50, m.startup_ms_p95,
    CASE WHEN m.first_frames > 0 THEN CAST(m.fast_starts AS DOUBLE) / m.first_frames END AS fast_start_pct,
    CASE WHEN m.started > 0 THEN CAST(m.ebvs AS DOUBLE) / m.started END         AS ebvs_pct,
    CASE WHEN m.sessions > 0 THEN CAST(coalesce(m.failed, 0) AS DOUBLE) / m.sessions END AS failure_pct,
    m.latency_ms_p50, m.latency_ms_p95, m.latency_ms_p99,
    m.exits, m.exits_after_stall,
    m.comments, m.likes, m.gifts, m.gift_value_usd, m.shares, m.follows, m.engaged_viewers,
    coalesce(m.funnel_viewers, 0)                                               AS funnel_viewers,
    coalesce(m.funnel_clicked, 0)                                               AS funnel_clicked,
    coalesce(m.funnel_carted, 0)                                                AS funnel_carted,
    coalesce(m.funnel_ordered, 0)                                               AS funnel_ordered,
    m.product_clicks, m.add_to_carts, m.orders, m.units, m.gmv_usd, m.buyers,
    CASE WHEN m.orders > 0 THEN CAST(CAST(m.gmv_usd AS DOUBLE) / m.orders AS DECIMAL(18, 4)) END AS aov_usd,
    CASE WHEN m.funnel_viewers > 0 THEN CAST(m.funnel_clicked AS DOUBLE) / m.funnel_viewers END AS ctr,
    CASE WHEN m.funnel_clicked > 0 THEN CAST(m.funnel_ordered AS DOUBLE) / m.funnel_clicked END AS click_to_order,
    CASE WHEN m.sessions > 0
         THEN CAST(CAST(m.gmv_usd AS DOUBLE) / m.sessions * 1000 AS DECIMAL(18, 4)) END AS gpm_usd,
    m.sessions_stalled,
    m.stall_exit_excess,
    -- An estimate (labelled as one wherever shown): excess exits × GMV per session.
    CASE WHEN m.sessions > 0
         THEN CAST(m.stall_exit_excess * CAST(m.gmv_usd AS DOUBLE) / m.sessions AS DECIMAL(18, 4)) END AS lost_gmv_usd_est,
    m.smoothness_score,
    m.startup_score
FROM m
CROSS JOIN scope
WHERE scope.kind <> 'sources' OR m.sessions > 0
ORDER BY m.stream_id, m.period, m.slice
