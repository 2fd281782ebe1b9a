-- Headline figures of the shows in a lake, per region, from stream_minute (what `make demo`
-- prints after the pipeline ran). Sessions are cleaned of join-spike bots; `suspect_starts` is
-- what the cleaning took out.
SELECT
    region,
    count(DISTINCT stream_id)                                            AS shows,
    sum(sessions_started)                                                AS sessions_started,
    sum(sessions_started_raw) - sum(sessions_started)                    AS suspect_starts,
    max(sessions_active)                                                 AS peak_sessions,
    round(100 * sum(stall_seconds) / nullif(sum(play_seconds) + sum(stall_seconds), 0), 2)
                                                                         AS stall_pct,
    sum(exits)                                                           AS exits,
    sum(exits_after_stall)                                               AS exits_after_stall,
    sum(product_clicks)                                                  AS clicks,
    sum(orders)                                                          AS orders,
    CAST(sum(gmv_usd) AS DECIMAL(18, 2))                                 AS gmv_usd
FROM stream_minute
GROUP BY region
ORDER BY gmv_usd DESC NULLS LAST, region
