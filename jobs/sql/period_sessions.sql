-- The rollup's first step (see period.sql): one row per stream × session of the shows being
-- rolled up, with what every later step needs to know of the session as a whole.
--   source  — the `source` of its session_start; none → 'unknown'
--   suspect — listed in `suspects` (suspects.sql)
-- Inputs: player, commerce, exits, suspects — as registered for period.sql.
WITH k AS (
    SELECT stream_id, session_id, max(source) FILTER (WHERE type = 'session_start') AS source
    FROM player
    GROUP BY stream_id, session_id
    UNION ALL
    SELECT DISTINCT stream_id, session_id, CAST(NULL AS VARCHAR) FROM commerce
    UNION ALL
    SELECT DISTINCT stream_id, session_id, CAST(NULL AS VARCHAR) FROM exits
),
s AS (
    SELECT DISTINCT stream_id, session_id FROM suspects
)
SELECT k.stream_id, k.session_id,
       coalesce(max(k.source), 'unknown')  AS source,
       bool_or(s.session_id IS NOT NULL)   AS suspect
FROM k
LEFT JOIN s ON k.stream_id = s.stream_id AND k.session_id = s.session_id
GROUP BY k.stream_id, k.session_id
ORDER BY k.stream_id, k.session_id
