-- Headline figures of the shows in a lake, per region, from stream_minute (what `make demo`
-- prints after the pipeline ran). Raw counts: fake-viewer cleaning comes with the metrics work.
SELECT
    region,
    count(DISTINCT stream_id)                                            AS shows,
    sum(sessions_started_raw)                                            AS sessions_started,
    max(sessions_active_raw)                                             AS peak_sessions,
    round(100 * sum(stall_seconds) / nullif(sum(play_seconds) + sum(stall_seconds), 0), 2)
                                                                         AS stall_pct,
    sum(product_clicks)                                                  AS clicks,
    sum(orders)                                                          AS orders,
    CAST(sum(gmv_usd) AS DECIMAL(18, 2))                                 AS gmv_usd
FROM stream_minute
GROUP BY region
ORDER BY gmv_usd DESC NULLS LAST, region
