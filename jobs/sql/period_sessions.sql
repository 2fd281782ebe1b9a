-- The rollup's first step (see period.sql): one row per stream × session of the shows being
-- rolled up (session_key: one per stream × session_id, see period.sql), with what every later
-- step needs to know of the session as a whole.
--   source  — the `source` of its session_start; none → 'unknown'
--   suspect — listed in `suspects` (suspects.sql)
-- Inputs: player, commerce, exits, suspects — as registered for period.sql.
WITH k AS (
    SELECT stream_id, session_key, max(source) FILTER (WHERE type = 'session_start') AS source
    FROM player
    GROUP BY stream_id, session_key
    UNION ALL
    SELECT DISTINCT stream_id, session_key, CAST(NULL AS VARCHAR) FROM commerce
    UNION ALL
    SELECT DISTINCT stream_id, session_key, CAST(NULL AS VARCHAR) FROM exits
),
s AS (
    SELECT DISTINCT session_key FROM suspects
)
SELECT k.stream_id, k.session_key,
       coalesce(max(k.source), 'unknown')  AS source,
       bool_or(s.session_key IS NOT NULL)  AS suspect
FROM k
LEFT JOIN s ON k.session_key = s.session_key
GROUP BY k.stream_id, k.session_key
