-- The sales funnel by region, over every show in the lake: viewers who saw video, then clicked a
-- product, added to cart and ordered (distinct viewers of a show), orders and GMV in USD.
WITH watched AS (
    SELECT region, count(DISTINCT stream_id || '/' || viewer_id) AS viewers
    FROM player_events
    WHERE type = 'first_frame'
    GROUP BY region
),
funnel AS (
    SELECT
        region,
        count(DISTINCT CASE WHEN type = 'product_click' THEN stream_id || '/' || viewer_id END) AS clicked,
        count(DISTINCT CASE WHEN type = 'add_to_cart' THEN stream_id || '/' || viewer_id END)   AS carted,
        count(DISTINCT CASE WHEN type = 'order' THEN stream_id || '/' || viewer_id END)         AS ordered,
        count(CASE WHEN type = 'order' THEN 1 END)                                              AS orders,
        sum(CASE WHEN type = 'order' THEN amount_usd END)                                       AS gmv_usd
    FROM commerce_events
    GROUP BY region
)
SELECT
    w.region,
    w.viewers,
    f.clicked,
    f.carted,
    f.ordered,
    round(CAST(f.clicked AS DOUBLE) / w.viewers, 4)            AS click_rate,
    round(CAST(f.ordered AS DOUBLE) / nullif(f.clicked, 0), 4) AS click_to_order,
    f.orders,
    f.gmv_usd
FROM watched w
LEFT JOIN funnel f ON f.region = w.region
ORDER BY f.gmv_usd DESC NULLS LAST, w.region
