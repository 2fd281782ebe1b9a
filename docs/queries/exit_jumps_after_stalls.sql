-- Minutes where exits jumped after stalls: per show and region, the minutes with at least 5
-- exits and twice the average of the 5 minutes before, at least half of them right after a stall.
-- This is where to look first when a region "left at minute 37".
WITH m AS (
    SELECT
        stream_id,
        region,
        window_start,
        exits,
        exits_after_stall,
        stall_ratio,
        avg(exits) OVER (
            PARTITION BY stream_id, region ORDER BY window_start ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING
        ) AS exits_before
    FROM stream_minute
)
SELECT
    stream_id,
    region,
    window_start,
    exits,
    round(exits_before, 2) AS exits_before,
    exits_after_stall,
    round(stall_ratio, 4)  AS stall_ratio
FROM m
WHERE exits >= 5 AND exits >= 2 * exits_before AND 2 * exits_after_stall >= exits
ORDER BY stream_id, region, window_start
