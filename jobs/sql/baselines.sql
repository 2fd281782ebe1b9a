-- The report's comparisons: the median of the headline figures (show_summary, region 'ALL') of
--   * the same seller's previous 5 shows (by show start, before this show), and
--   * same-category shows that started in the 30 days before this show,
-- joined on the `shows` dimension; this show itself is never in a baseline.
-- Parameters: $1 stream_id, $2 seller_id, $3 category, $4 this show's start (timestamp).
WITH rolled AS (
    SELECT s.*, d.seller_id, d.category
    FROM show_summary s
    JOIN shows d ON d.stream_id = s.stream_id
    WHERE s.region = 'ALL' AND s.stream_id <> $1 AND s.show_start < $4
),
seller AS (
    SELECT * FROM rolled WHERE seller_id = $2 ORDER BY show_start DESC LIMIT 5
),
category AS (
    SELECT * FROM rolled WHERE category = $3 AND show_start >= $4 - INTERVAL '30 days'
)
SELECT 'seller_previous_5' AS baseline, count(*) AS shows,
       median(CAST(viewers AS DOUBLE)) AS viewers, median(CAST(peak_concurrent AS DOUBLE)) AS peak_concurrent,
       median(avg_watch_seconds) AS avg_watch_seconds, median(stall_ratio) AS stall_ratio,
       median(startup_ms_p50) AS startup_ms_p50, median(ctr) AS ctr, median(click_to_order) AS click_to_order,
       median(CAST(orders AS DOUBLE)) AS orders, median(CAST(gmv_usd AS DOUBLE)) AS gmv_usd,
       median(CAST(gpm_usd AS DOUBLE)) AS gpm_usd
FROM seller
UNION ALL
SELECT 'same_category_30d', count(*),
       median(CAST(viewers AS DOUBLE)), median(CAST(peak_concurrent AS DOUBLE)),
       median(avg_watch_seconds), median(stall_ratio),
       median(startup_ms_p50), median(ctr), median(click_to_order),
       median(CAST(orders AS DOUBLE)), median(CAST(gmv_usd AS DOUBLE)),
       median(CAST(gpm_usd AS DOUBLE))
FROM category
