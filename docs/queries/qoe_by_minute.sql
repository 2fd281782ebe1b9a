-- Per-region QoE by minute of the latest show: viewers, smoothness, start-up and latency, who
-- left (and how many of them right after a stall), and orders.
-- "Show me EU stall ratio and orders minute by minute for last night's show": add
-- `WHERE m.region = 'EU'`.
WITH latest AS (
    SELECT stream_id
    FROM stream_minute
    GROUP BY stream_id
    ORDER BY min(window_start) DESC, stream_id
    LIMIT 1
)
SELECT
    m.region,
    m.window_start,
    m.sessions_active,
    round(m.stall_ratio, 4)  AS stall_ratio,
    m.startup_ms_p95,
    m.latency_ms_p95,
    m.exits,
    m.exits_after_stall,
    m.orders
FROM stream_minute m
JOIN latest ON m.stream_id = latest.stream_id
ORDER BY m.region, m.window_start
