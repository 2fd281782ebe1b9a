-- Per-period metrics of the nightly rollup (docs/metrics.md, "stream_daily and show_summary"
-- and "show_sources"): one SQL for the three tables, which differ only in how events are sliced.
--
-- The events are read in five passes first, each a small table of counts and sums per cell
-- (stream × session × viewer × region × UTC date × source), so this SQL never holds a show's
-- events and runs over far fewer rows than the show has. Sessions and viewers are named by
-- integer keys (period.rs): session_key one per stream × session_id, viewer_key one per
-- stream × viewer_id; each event's `day` is the UTC date of its ts (period.rs).
--   sessions — period_sessions.sql: per session, its source and whether it is a suspect
--   facts    — period_facts.sql: per session × viewer × region × date, every count and sum below
--              (view ends included: the streaming job's session rules, one per view)
--   minutes  — period_minutes.sql: per session × region × date × window, active or not
--   vals     — period_values.sql: per region × date × source, how often each startup_ms and
--              latency_ms value occurs (non-suspect sessions)
--   funnel_events — period_funnel.sql: first_frame, product_click, add_to_cart and order events
--              of non-suspect sessions
--   scope    — one row, `kind`: 'daily'   → slice = region,             period = UTC date of ts
--                                 'show'    → slice = region, and 'ALL',  period = 'show'
--                                 'sources' → slice = the session's source, period = 'show'
-- Output: stream_id, slice, period, show_start, show_end, then every per-period column.
-- Joins with `slicing` name it first: it is the small side, which the plan (made once, with no
-- row counts to choose from) builds its hash table of.
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
-- Means of per-session or per-value scores add them as DECIMAL(38, 12): exact sums, so the result
-- does not depend on the order rows reach the aggregate (±1e-12 per term from the rounding).
-- Ratios with a zero denominator are NULL (CASE without ELSE). Percentiles are exact: linear
-- interpolation between the values at ranks floor(q·(n−1)) and ceil(q·(n−1)) of the n values, as
-- percentile_cont computes them in stream_minute.sql, here read off the value counts.
WITH
-- Each cell in its slice and period; for 'show', once more in the slice 'ALL'.
cells AS (
    SELECT DISTINCT region, day, source FROM facts
),
slicing AS (
    SELECT c.region, c.day, c.source,
           CASE WHEN copy.all_regions THEN 'ALL'
                WHEN scope.kind = 'sources' THEN c.source
                ELSE c.region END                                       AS slice,
           CASE WHEN scope.kind = 'daily' THEN CAST(c.day AS VARCHAR) ELSE 'show' END AS period
    FROM cells c
    CROSS JOIN scope
    JOIN (VALUES (false), (true)) AS copy(all_regions) ON NOT copy.all_regions OR scope.kind = 'show'
),
sliced AS (
    SELECT x.*, m.slice, m.period
    FROM slicing m
    JOIN facts x ON x.region = m.region AND x.day = m.day AND x.source = m.source
),
shows AS (
    SELECT stream_id, min(first_ts) AS show_start, max(last_ts) AS show_end FROM facts GROUP BY stream_id
),
p AS (
    SELECT stream_id, slice, period,
        count(DISTINCT CASE WHEN player_events > 0 AND NOT suspect THEN session_key END) AS sessions,
        count(DISTINCT CASE WHEN player_events > 0 THEN session_key END)               AS sessions_raw,
        count(DISTINCT CASE WHEN player_events > 0 AND suspect THEN session_key END)   AS suspect_sessions,
        count(DISTINCT CASE WHEN player_events > 0 AND NOT suspect THEN viewer_key END) AS viewers,
        coalesce(sum(play_ms) FILTER (WHERE NOT suspect), 0) / 1000.0                 AS play_seconds,
        coalesce(sum(stall_ms) FILTER (WHERE NOT suspect), 0) / 1000.0                AS stall_seconds,
        coalesce(sum(stall_ends) FILTER (WHERE NOT suspect), 0)                       AS stall_count,
        count(DISTINCT CASE WHEN stall_ends > 0 AND NOT suspect THEN session_key END)  AS sessions_stalled,
        count(DISTINCT CASE WHEN first_frames > 0 AND NOT suspect THEN session_key END) AS sessions_first_frame,
        coalesce(sum(first_frames) FILTER (WHERE NOT suspect), 0)                     AS first_frames,
        coalesce(sum(exits) FILTER (WHERE NOT suspect), 0)                            AS exits,
        coalesce(sum(exits_after_stall) FILTER (WHERE NOT suspect), 0)                AS exits_after_stall,
        coalesce(sum(comments) FILTER (WHERE NOT suspect), 0)                         AS comments,
        coalesce(sum(likes) FILTER (WHERE NOT suspect), 0)                            AS likes,
        coalesce(sum(gifts) FILTER (WHERE NOT suspect), 0)                            AS gifts,
        coalesce(sum(gift_value_usd) FILTER (WHERE NOT suspect), 0)                   AS gift_value_usd,
        coalesce(sum(shares) FILTER (WHERE NOT suspect), 0)                           AS shares,
        coalesce(sum(follows) FILTER (WHERE NOT suspect), 0)                          AS follows,
        count(DISTINCT CASE WHEN engagements > 0 AND NOT suspect THEN viewer_key END)  AS engaged_viewers,
        coalesce(sum(product_clicks) FILTER (WHERE NOT suspect), 0)                   AS product_clicks,
        coalesce(sum(add_to_carts) FILTER (WHERE NOT suspect), 0)                     AS add_to_carts,
        coalesce(sum(orders) FILTER (WHERE NOT suspect), 0)                           AS orders,
        coalesce(sum(units) FILTER (WHERE NOT suspect), 0)                            AS units,
        coalesce(sum(gmv_usd) FILTER (WHERE NOT suspect), 0)                          AS gmv_usd,
        count(DISTINCT CASE WHEN orders > 0 AND NOT suspect THEN viewer_key END)       AS buyers
    FROM sliced
    GROUP BY stream_id, slice, period
),
-- Startup and latency: each value's count in the slice, then the running count up to it.
counted AS (
    SELECT v.stream_id, m.slice, m.period, v.metric, v.value, sum(v.n) AS n
    FROM slicing m
    JOIN vals v ON v.region = m.region AND v.day = m.day AND v.source = m.source
    GROUP BY v.stream_id, m.slice, m.period, v.metric, v.value
),
ranked AS (
    SELECT *,
           sum(n) OVER (PARTITION BY stream_id, slice, period, metric ORDER BY value
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)        AS upto,
           sum(n) OVER (PARTITION BY stream_id, slice, period, metric)           AS total
    FROM counted
),
-- The value at 0-based rank r is the first value whose running count exceeds r.
ranks AS (
    SELECT stream_id, slice, period, metric,
           min(value) FILTER (WHERE upto > floor(0.5 * (total - 1)))    AS lo50,
           min(value) FILTER (WHERE upto > ceil(0.5 * (total - 1)))     AS hi50,
           max(0.5 * (total - 1) - floor(0.5 * (total - 1)))            AS at50,
           min(value) FILTER (WHERE upto > floor(0.95 * (total - 1)))   AS lo95,
           min(value) FILTER (WHERE upto > ceil(0.95 * (total - 1)))    AS hi95,
           max(0.95 * (total - 1) - floor(0.95 * (total - 1)))          AS at95,
           min(value) FILTER (WHERE upto > floor(0.99 * (total - 1)))   AS lo99,
           min(value) FILTER (WHERE upto > ceil(0.99 * (total - 1)))    AS hi99,
           max(0.99 * (total - 1) - floor(0.99 * (total - 1)))          AS at99,
           sum(n) FILTER (WHERE value <= 1000)                          AS at_most_1s,
           sum(n * CAST(100.0 * 8 / (8 + value / 1000.0) AS DECIMAL(38, 12))) AS score_sum,
           sum(n)                                                       AS n
    FROM ranked
    GROUP BY stream_id, slice, period, metric
),
pct AS (
    SELECT stream_id, slice, period,
        max(CASE WHEN metric = 'startup_ms' THEN lo50 + at50 * (hi50 - lo50) END)    AS startup_ms_p50,
        max(CASE WHEN metric = 'startup_ms' THEN lo95 + at95 * (hi95 - lo95) END)    AS startup_ms_p95,
        max(CASE WHEN metric = 'startup_ms' THEN at_most_1s END)                     AS fast_starts,
        max(CASE WHEN metric = 'startup_ms' THEN CAST(score_sum AS DOUBLE) / n END)  AS startup_score,
        max(CASE WHEN metric = 'latency_ms' THEN lo50 + at50 * (hi50 - lo50) END)    AS latency_ms_p50,
        max(CASE WHEN metric = 'latency_ms' THEN lo95 + at95 * (hi95 - lo95) END)    AS latency_ms_p95,
        max(CASE WHEN metric = 'latency_ms' THEN lo99 + at99 * (hi99 - lo99) END)    AS latency_ms_p99
    FROM ranks
    GROUP BY stream_id, slice, period
),
-- Concurrency: per minute of the period, distinct non-suspect sessions with a player event.
per_minute AS (
    SELECT x.stream_id, m.slice, m.period, x.window_start,
           count(DISTINCT CASE WHEN x.active THEN x.session_key END) AS active
    FROM slicing m
    JOIN minutes x ON x.region = m.region AND x.day = m.day AND x.source = m.source
    GROUP BY x.stream_id, m.slice, m.period, x.window_start
),
concurrency AS (
    SELECT stream_id, slice, period, max(active) AS peak_concurrent, avg(CAST(active AS DOUBLE)) AS avg_concurrent
    FROM per_minute
    GROUP BY stream_id, slice, period
),
-- Per session: start, first frame, fatal error, stalls and watch time in the period.
sessions_in AS (
    SELECT stream_id, slice, period, session_key,
           sum(starts) > 0                                AS started,
           sum(first_frames) > 0                          AS first_frame,
           sum(fatal_errors) > 0                          AS failed,
           sum(stall_ends)                                AS stalls,
           coalesce(sum(stall_ms), 0)                     AS stall_ms,
           coalesce(sum(play_ms), 0) + coalesce(sum(stall_ms), 0) AS watch_ms
    FROM sliced
    WHERE NOT suspect AND player_events > 0
    GROUP BY stream_id, slice, period, session_key
),
session_scores AS (
    SELECT stream_id, slice, period,
           count(*) FILTER (WHERE started)                                       AS started,
           count(*) FILTER (WHERE started AND NOT first_frame AND NOT failed)    AS ebvs,
           count(*) FILTER (WHERE failed)                                        AS failed,
           -- Mux's Smoothness Score: c = stall count, p = stall share of watch time.
           CAST(avg(CASE WHEN watch_ms > 0 THEN CAST(
                   (100.0 / sqrt(1.0 + power(stalls / 2.0, 2))
                    + 100.0 * exp(-10.0 * CAST(stall_ms AS DOUBLE) / watch_ms)) / 2.0 AS DECIMAL(38, 12)) END)
               FILTER (WHERE first_frame) AS DOUBLE)                             AS smoothness_score
    FROM sessions_in
    GROUP BY stream_id, slice, period
),
-- Per viewer: watch time, and the ordered funnel first_frame → click → cart → order.
viewers AS (
    SELECT stream_id, slice, period, viewer_key,
           sum(player_events) > 0                                       AS watched,
           coalesce(sum(play_ms), 0) + coalesce(sum(stall_ms), 0)       AS watch_ms
    FROM sliced
    WHERE NOT suspect AND events > 0
    GROUP BY stream_id, slice, period, viewer_key
),
steps AS (
    SELECT e.stream_id, m.slice, m.period, e.viewer_key, e.type, e.ts
    FROM slicing m
    JOIN funnel_events e ON e.region = m.region AND e.day = m.day AND e.source = m.source
),
framed AS (
    SELECT stream_id, slice, period, viewer_key, min(ts) AS first_frame_at
    FROM steps WHERE type = 'first_frame'
    GROUP BY stream_id, slice, period, viewer_key
),
clicked AS (
    SELECT v.stream_id, v.slice, v.period, v.viewer_key, min(e.ts) AS clicked_at
    FROM framed v
    JOIN steps e ON e.stream_id = v.stream_id AND e.slice = v.slice AND e.period = v.period
                AND e.viewer_key = v.viewer_key AND e.type = 'product_click' AND e.ts >= v.first_frame_at
    GROUP BY v.stream_id, v.slice, v.period, v.viewer_key
),
carted AS (
    SELECT c.stream_id, c.slice, c.period, c.viewer_key, min(e.ts) AS carted_at
    FROM clicked c
    JOIN steps e ON e.stream_id = c.stream_id AND e.slice = c.slice AND e.period = c.period
                AND e.viewer_key = c.viewer_key AND e.type = 'add_to_cart' AND e.ts >= c.clicked_at
    GROUP BY c.stream_id, c.slice, c.period, c.viewer_key
),
ordered AS (
    SELECT DISTINCT c.stream_id, c.slice, c.period, c.viewer_key
    FROM carted c
    JOIN steps e ON e.stream_id = c.stream_id AND e.slice = c.slice AND e.period = c.period
                AND e.viewer_key = c.viewer_key AND e.type = 'order' AND e.ts >= c.carted_at
),
funnel AS (
    SELECT v.stream_id, v.slice, v.period,
           count(fr.viewer_key)                                  AS funnel_viewers,
           count(c.viewer_key)                                   AS funnel_clicked,
           count(a.viewer_key)                                   AS funnel_carted,
           count(o.viewer_key)                                   AS funnel_ordered,
           sum(CASE WHEN v.watched THEN least(v.watch_ms, CAST(sh.show_end AS BIGINT) - CAST(sh.show_start AS BIGINT))
                    END) / 1000.0                               AS capped_watch_seconds
    FROM viewers v
    JOIN shows sh ON sh.stream_id = v.stream_id
    LEFT JOIN framed fr ON fr.stream_id = v.stream_id AND fr.slice = v.slice AND fr.period = v.period AND fr.viewer_key = v.viewer_key
    LEFT JOIN clicked c ON c.stream_id = v.stream_id AND c.slice = v.slice AND c.period = v.period AND c.viewer_key = v.viewer_key
    LEFT JOIN carted a ON a.stream_id = v.stream_id AND a.slice = v.slice AND a.period = v.period AND a.viewer_key = v.viewer_key
    LEFT JOIN ordered o ON o.stream_id = v.stream_id AND o.slice = v.slice AND o.period = v.period AND o.viewer_key = v.viewer_key
    GROUP BY v.stream_id, v.slice, v.period
),
m AS (
    SELECT p.*, sh.show_start, sh.show_end, k.peak_concurrent, k.avg_concurrent,
           s.started, s.ebvs, s.failed, s.smoothness_score,
           q.startup_ms_p50, q.startup_ms_p95, coalesce(q.fast_starts, 0) AS fast_starts, q.startup_score,
           q.latency_ms_p50, q.latency_ms_p95, q.latency_ms_p99,
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
    LEFT JOIN pct q ON q.stream_id = p.stream_id AND q.slice = p.slice AND q.period = p.period
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
