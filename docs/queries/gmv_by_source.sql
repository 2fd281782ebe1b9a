-- GMV by traffic source over every show in the lake: where the buyers came from (organic, ads,
-- short video, shop tab, external), orders, buyers, GMV and average order value in USD.
SELECT
    coalesce(source, 'unknown')                                AS source,
    count(*)                                                   AS orders,
    count(DISTINCT stream_id || '/' || viewer_id)              AS buyers,
    sum(amount_usd)                                            AS gmv_usd,
    round(CAST(sum(amount_usd) AS DOUBLE) / count(*), 2)       AS aov_usd
FROM commerce_events
WHERE type = 'order'
GROUP BY coalesce(source, 'unknown')
ORDER BY gmv_usd DESC, source
