//! Ad hoc SQL over the lake: `livelake sql` and `livelake tables` on a lake the pipeline wrote,
//! checked against engines that are not ours (DuckDB and pyarrow.dataset, installed by
//! `make test`), partition pruning shown with EXPLAIN, every output format, and snapshots of the
//! CLI's text (tables and one-line errors).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use livelake_pipeline::simulate::{Incident, SimConfig, simulate};

use crate::support::{livelake_bin, ndjson, run_into_lake};

/// Six shows on six days (one per day, 2026-11-21 … 26, 12:40–13:20 UTC, so they span two hour
/// partitions), 40 minutes and 1,000 viewers each, each
/// with a fake spike and an EU stall burst, run through `livelake run` on the file source into
/// one lake; their plan imported with `livelake shows import` (sellers `seller-0` and `seller-1`
/// take turns), each day rolled up (without compaction), and each show's report written in order
/// (so `show_actions` has rows, and each report from the third on checks the actions of the same
/// seller's show two days before): every table of the lake has rows.
pub(crate) struct Fixture {
    pub lake: PathBuf,
    pub incidents: Vec<Incident>,
    /// The shows' stream ids, by day.
    pub streams: Vec<String>,
    /// Where the reports are (`<stream>.md`, `<stream>.html`).
    pub reports: PathBuf,
}

const DAY0: i64 = 1_795_264_800_000; // 2026-11-21T12:40:00Z

pub(crate) fn six_shows() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut body = Vec::new();
        let mut incidents = Vec::new();
        let mut streams = Vec::new();
        for k in 0..6 {
            let cfg = SimConfig {
                viewers: 1000,
                duration_min: 40,
                start_ms: DAY0 + k * 86_400_000,
                ..SimConfig::new(100 + k as u64)
            }
            .with_default_pitches()
            .fit_incidents();
            let sim = simulate(&cfg);
            body.extend(ndjson(&sim));
            incidents.extend(sim.truth.incidents.clone());
            streams.extend(sim.streams.clone());
        }
        let events = dir.join("shows.ndjson");
        std::fs::write(&events, body).unwrap();
        let lake = run_into_lake(&events, &dir);
        let plan = dir.join("plan.csv");
        let mut csv =
            "stream_id,seller_id,title,category,planned_start,target_gmv_usd,target_viewers,max_stall_ratio\n"
                .to_string();
        for (k, stream) in streams.iter().enumerate() {
            csv.push_str(&format!("{stream},seller-{},\"Show, part {k}\",beauty,,{}.5,900,0.02\n", k % 2, 1000 * k));
        }
        std::fs::write(&plan, csv).unwrap();
        let lake_s = lake.to_str().unwrap();
        stdout_ok(livelake(&["shows", "import", plan.to_str().unwrap(), "--lake", lake_s]), "shows import");
        for k in 21..=26 {
            let date = format!("2026-11-{k}");
            stdout_ok(livelake(&["rollup", "--lake", lake_s, "--date", &date, "--no-compact"]), "rollup");
        }
        let reports = dir.join("report");
        for s in &streams {
            let args = ["report", "--lake", lake_s, "--stream", s, "--out", reports.to_str().unwrap()];
            stdout_ok(livelake(&args), "report");
        }
        Fixture { lake, incidents, streams, reports }
    })
}

/// `livelake ARGS…`.
fn livelake(args: &[&str]) -> Output {
    Command::new(livelake_bin()).args(args).output().unwrap()
}

/// `livelake sql --lake LAKE ARGS…`.
fn sql(lake: &Path, args: &[&str]) -> Output {
    Command::new(livelake_bin()).arg("sql").arg("--lake").arg(lake).args(args).output().unwrap()
}

fn stdout_ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The Python that has deltalake, duckdb and pyarrow (`make test` sets LIVELAKE_PYTHON to its venv).
fn python(args: &[&str]) -> String {
    let py = std::env::var("LIVELAKE_PYTHON").unwrap_or_else(|_| "python3".into());
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/lake_engines.py");
    let out = Command::new(&py).arg(tool).args(args).output().unwrap_or_else(|e| panic!("running {py}: {e}"));
    assert!(
        out.status.success(),
        "{py} lake_engines.py {args:?} failed (run `make test`, which installs deltalake, duckdb and pyarrow):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parse CSV (quoted fields allowed) into rows of cells.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    livelake_jobs::shows::csv_records(text).expect("CSV").into_iter().map(|(_, row)| row).collect()
}

/// The same value? Numbers to 1e-9 relative, timestamps whatever their spelling (`Z` or
/// `+00:00`), text exactly.
fn same_cell(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace("+00:00", "Z").replace(".000Z", "Z");
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
        return (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    }
    norm(a) == norm(b)
}

fn queries() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/queries");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    v.sort();
    v
}

#[test]
fn example_queries_give_duckdbs_numbers() {
    let f = six_shows();
    let qs = queries();
    assert!(qs.len() >= 5, "docs/queries holds the example retrospective queries");
    for q in qs {
        let name = q.file_name().unwrap().to_string_lossy().into_owned();
        let ours = parse_csv(&stdout_ok(sql(&f.lake, &["--format", "csv", "-f", q.to_str().unwrap()]), &name));
        let duck = parse_csv(&python(&["duckdb", f.lake.to_str().unwrap(), q.to_str().unwrap()]));
        assert!(ours.len() > 1, "{name}: no rows");
        assert_eq!(ours[0], duck[0], "{name}: columns");
        assert_eq!(ours.len(), duck.len(), "{name}: rows (livelake vs DuckDB)");
        for (i, (a, b)) in ours.iter().zip(&duck).enumerate().skip(1) {
            for (j, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(same_cell(x, y), "{name} row {i} {}: livelake {x} vs DuckDB {y}", ours[0][j]);
            }
        }
        if name == "show_vs_previous_five.sql" {
            assert_eq!(ours.len(), 3, "{name}: this show and the median of the five before");
            assert!(
                ours[1][0].starts_with("this show: show-105-"),
                "{name}: the latest show is the sixth: {:?}",
                ours[1]
            );
            assert_eq!(ours[2][0], "median of the 5 before", "{name}");
        }
        if name == "exit_jumps_after_stalls.sql" {
            // The stall bursts the simulator injected show up as exit jumps in their region and
            // minutes (in most shows: with ~60 EU viewers a burst is not always a jump).
            let bursts: Vec<&Incident> = f.incidents.iter().filter(|i| i.kind == "stall_burst").collect();
            let mut found = 0;
            for inc in &bursts {
                let start = chrono::DateTime::parse_from_rfc3339(&inc.start).unwrap().timestamp_millis();
                let hit = ours.iter().skip(1).any(|r| {
                    let ts =
                        chrono::DateTime::parse_from_rfc3339(&r[2].replace("+00:00", "Z")).unwrap().timestamp_millis();
                    r[0] == inc.stream_id
                        && r[1] == inc.region
                        && ts >= start
                        && ts < start + (inc.minutes + 1) * 60_000
                });
                found += hit as usize;
            }
            assert!(
                found * 3 >= bursts.len() * 2,
                "{name}: exit jumps found for {found} of {} stall bursts",
                bursts.len()
            );
            for r in ours.iter().skip(1) {
                let (exits, after): (f64, f64) = (r[3].parse().unwrap(), r[5].parse().unwrap());
                assert!(exits >= 5.0 && 2.0 * after >= exits, "{name}: row outside the query's rule: {r:?}");
            }
        }
    }
}

/// A cell as both engines' CSV can spell it, in one spelling: numbers as Rust prints the f64
/// (`12.5000` and `12.5` alike), timestamps as RFC 3339 UTC with microseconds (pyarrow writes
/// `2026-11-24 12:54:46.618000Z`, livelake `2026-11-24T12:54:46.618Z`), text as it is.
fn canonical_cell(s: &str) -> String {
    if let Ok(x) = s.parse::<f64>() {
        return x.to_string();
    }
    if s.len() >= 20
        && matches!(s.as_bytes()[10], b' ' | b'T')
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s.replacen(' ', "T", 1))
    {
        return t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    s.to_string()
}

/// The header and the rows (canonical cells, sorted) of a CSV table.
fn canonical_rows(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = parse_csv(csv);
    assert!(!rows.is_empty(), "a header");
    let header = rows.remove(0);
    let mut rows: Vec<Vec<String>> = rows.into_iter().map(|r| r.iter().map(|c| canonical_cell(c)).collect()).collect();
    rows.sort();
    (header, rows)
}

#[test]
fn deltalake_python_reads_every_table_with_livelakes_rows() {
    let f = six_shows();
    let lake = f.lake.to_str().unwrap();
    for table in livelake_schemas::Table::ALL {
        let name = table.name();
        let q = format!("SELECT * FROM {name}");
        let (our_header, ours) = canonical_rows(&stdout_ok(sql(&f.lake, &["--format", "csv", &q]), &q));
        let (their_header, theirs) = canonical_rows(&python(&["rows", lake, name]));
        assert!(!ours.is_empty(), "{name}: the fixture fills every table");
        assert_eq!(our_header, their_header, "{name}: columns, livelake vs deltalake (Python)");
        assert_eq!(ours.len(), theirs.len(), "{name}: rows, livelake vs deltalake (Python)");
        if let Some(i) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
            panic!("{name}: first differing row (sorted)\n livelake: {:?}\n deltalake: {:?}", ours[i], theirs[i]);
        }
    }
}

#[test]
fn pyarrow_reads_the_same_lake() {
    let f = six_shows();
    let figures: serde_json::Value = serde_json::from_str(&python(&["pyarrow", f.lake.to_str().unwrap()])).unwrap();
    let q = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/queries/gmv_by_source.sql");
    let ours = parse_csv(&stdout_ok(sql(&f.lake, &["--format", "csv", "-f", q.to_str().unwrap()]), "gmv_by_source"));
    let by_source = figures["gmv_by_source"].as_object().unwrap();
    assert_eq!(ours.len() - 1, by_source.len(), "sources");
    for r in ours.iter().skip(1) {
        let p = &by_source[&r[0]];
        assert_eq!(r[1], p["orders"].to_string(), "{}: orders", r[0]);
        assert!(same_cell(&r[3], p["gmv_usd"].as_str().unwrap()), "{}: gmv {} vs {}", r[0], r[3], p["gmv_usd"]);
    }
    let started = "SELECT region, sum(sessions_started) AS n FROM stream_minute GROUP BY region ORDER BY region";
    for r in parse_csv(&stdout_ok(sql(&f.lake, &["--format", "csv", started]), started)).iter().skip(1) {
        assert_eq!(r[1], figures["sessions_started_by_region"][&r[0]].to_string(), "{}: sessions started", r[0]);
    }
}

/// The Parquet files an EXPLAIN plan will read (listed as `path:start..end` byte ranges).
fn planned_files(plan: &str) -> Vec<String> {
    let files: std::collections::BTreeSet<String> = plan
        .split(|c: char| c.is_whitespace() || "[],\"".contains(c))
        .filter_map(|t| t.find(".parquet").map(|i| t[..i + ".parquet".len()].to_string()))
        .collect();
    files.into_iter().collect()
}

#[test]
fn partition_filters_read_only_their_folders() {
    let f = six_shows();
    let all = planned_files(&stdout_ok(
        sql(
            &f.lake,
            &["--format", "csv", "EXPLAIN VERBOSE SELECT count(*) FROM player_events WHERE type = 'heartbeat'"],
        ),
        "explain all",
    ));
    assert!(all.len() > 20, "the unfiltered plan lists every file: {}", all.len());
    // The last filter is on a file column: the min/max of stream_id in each file's `add` action
    // of the Delta log skip every file of the other days (one show per day).
    let third_show = format!("stream_id = '{}'", f.streams[2]);
    for (filter, folder) in [
        ("region = 'EU'", "/region=EU/"),
        ("date = '2026-11-23'", "/date=2026-11-23/"),
        ("hour = 12", "/hour=12/"),
        ("region = 'EU' AND date = '2026-11-23' AND hour = 12", "/region=EU/date=2026-11-23/hour=12/"),
        (third_show.as_str(), "/date=2026-11-23/"),
    ] {
        // (VERBOSE lists every file; a filter on a file column too, or count(*) is answered from
        // statistics without a scan)
        let q = format!("EXPLAIN VERBOSE SELECT count(*) FROM player_events WHERE type = 'heartbeat' AND {filter}");
        let files = planned_files(&stdout_ok(sql(&f.lake, &["--format", "csv", &q]), &q));
        assert!(!files.is_empty(), "{filter}: no files planned");
        assert!(files.len() < all.len(), "{filter}: {} of {} files, nothing pruned", files.len(), all.len());
        for file in &files {
            assert!(file.contains(folder), "{filter}: plan reads {file}");
        }
        let on_disk: Vec<&String> = all.iter().filter(|p| p.contains(folder)).collect();
        assert_eq!(files.iter().collect::<Vec<_>>(), on_disk, "{filter}: every file of the folder, no other");
    }
}

/// A small lake from the hand-worked golden events: stable output for snapshots.
fn golden_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/golden/qoe_and_counts/events.ndjson");
        run_into_lake(&events, &dir)
    })
}

/// `livelake tables` output with its wall-clock part (the time of each table's last commit)
/// replaced by `TIME`.
fn without_commit_times(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(", last commit ") {
            Some((head, _)) => format!("{head}, last commit TIME"),
            None => l.to_string(),
        })
        .map(|l| l + "\n")
        .collect()
}

/// Compare with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
fn snapshot(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing snapshot {}", path.display()));
    assert_eq!(got, want, "snapshot {name} differs (UPDATE_SNAPSHOTS=1 rewrites it after a review)");
}

const MINUTES: &str = "SELECT region, window_start, sessions_active, exits, round(stall_ratio, 4) AS stall_ratio, \
                       latency_ms_p50, gmv_usd FROM stream_minute ORDER BY window_start";

#[test]
fn output_formats_match_their_snapshots() {
    let lake = golden_lake();
    for (format, name) in [("table", "sql_table.txt"), ("csv", "sql_csv.txt"), ("json", "sql_json.txt")] {
        snapshot(name, &stdout_ok(sql(lake, &["--format", format, MINUTES]), format));
    }
    snapshot("sql_empty.txt", &stdout_ok(sql(lake, &["SELECT stream_id, gmv_usd FROM show_summary"]), "empty"));
    snapshot("tables_stream_minute.txt", &{
        let out = Command::new(livelake_bin()).args(["tables", "stream_minute", "--lake"]).arg(lake).output().unwrap();
        without_commit_times(&stdout_ok(out, "tables").replace(&lake.display().to_string(), "LAKE"))
    });
    let brief = Command::new(livelake_bin()).args(["tables", "--brief", "--lake"]).arg(lake).output().unwrap();
    snapshot("tables_brief.txt", &without_commit_times(&stdout_ok(brief, "tables --brief")));

    // Parquet goes to a file and reads back as the same rows.
    let file = lake.parent().unwrap().join("minutes.parquet");
    stdout_ok(sql(lake, &["--format", "parquet", "--output", file.to_str().unwrap(), MINUTES]), "parquet");
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);
}

#[test]
fn interactive_prompt_reads_statements_over_lines() {
    use std::io::Write;
    let lake = golden_lake();
    let mut child = Command::new(livelake_bin())
        .args(["sql", "--lake"])
        .arg(lake)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("HOME", lake.parent().unwrap())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT count(*)\n  AS windows\nFROM stream_minute;\nSELECT nope FROM stream_minute;\n\\d\nSELECT 2 AS two\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| windows |") && stdout.contains("| 3       |"), "multi-line statement ran:\n{stdout}");
    assert!(
        stderr.contains("error: ") && stderr.contains("nope"),
        "a bad statement is reported and the prompt goes on:\n{stderr}"
    );
    assert!(stdout.contains("stream_minute — 3 rows"), "\\d lists the tables:\n{stdout}");
    assert!(stdout.contains("| two |"), "the last statement runs at end of input without `;`:\n{stdout}");
}

#[test]
fn bad_input_gets_one_line_and_a_non_zero_exit() {
    let lake = golden_lake();
    let missing = lake.join("no-such-lake");
    let cases: Vec<(&str, Output)> = vec![
        ("syntax", sql(lake, &["SELEC 1"])),
        ("unknown_table", sql(lake, &["SELECT * FROM orders"])),
        ("unknown_column", sql(lake, &["SELECT gmv FROM stream_minute"])),
        ("missing_lake", sql(&missing, &["SELECT 1"])),
        ("create", sql(lake, &["CREATE TABLE t AS SELECT 1"])),
        ("insert", sql(lake, &["INSERT INTO stream_minute SELECT * FROM stream_minute"])),
        ("copy", sql(lake, &["COPY (SELECT 1) TO '/tmp/x.csv'"])),
        ("set", sql(lake, &["SET datafusion.execution.batch_size = 1"])),
        ("parquet_to_stdout", sql(lake, &["--format", "parquet", "SELECT 1"])),
        ("bad_format", sql(lake, &["--format", "xml", "SELECT 1"])),
        (
            "unknown_table_tables",
            Command::new(livelake_bin()).args(["tables", "orders", "--lake"]).arg(lake).output().unwrap(),
        ),
    ];
    let mut text = String::new();
    for (name, out) in cases {
        let stderr = String::from_utf8_lossy(&out.stderr).replace(&missing.display().to_string(), "MISSING");
        assert!(!out.status.success(), "{name}: exit status 0");
        assert!(!stderr.contains("panicked"), "{name}: panic: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: one line, got:\n{stderr}");
        text.push_str(&format!("{name} (exit {}): {stderr}", out.status.code().unwrap_or(-1)));
    }
    snapshot("sql_errors.txt", &text);
}

#[test]
fn lake_files_are_laid_out_for_queries() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampMillisecondType;
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;

    let f = six_shows();
    let mut sizes = [0, 0]; // files (small, large)
    for (table, time) in [("player_events", "ts"), ("commerce_events", "ts"), ("stream_minute", "window_start")] {
        let files = crate::lake::committed_files(&f.lake, table);
        assert!(!files.is_empty(), "{table}: files");
        for path in files {
            let what = path.display().to_string();
            let options = ReadOptionsBuilder::new().with_page_index().build();
            let reader = SerializedFileReader::new_with_options(std::fs::File::open(&path).unwrap(), options).unwrap();
            let meta = reader.metadata();
            assert!(meta.column_index().is_some() && meta.offset_index().is_some(), "{what}: page indexes");
            // A streaming commit's files: Snappy, with zstd for the values that hardly repeat
            // unless the file is small.
            let small = meta.file_metadata().num_rows() as usize <= livelake_jobs::store::SMALL_FILE_ROWS;
            sizes[usize::from(!small)] += 1;
            for rg in meta.row_groups() {
                assert!(rg.num_rows() as usize <= livelake_jobs::store::ROW_GROUP_ROWS, "{what}: row group size");
                for c in rg.columns() {
                    let codec = c.compression();
                    let zstd = ["event_id", "ts", "src_offset", "session_id", "viewer_id"]
                        .contains(&c.column_path().string().as_str());
                    let expected = if small || !zstd {
                        codec == Compression::SNAPPY
                    } else {
                        matches!(codec, Compression::ZSTD(_))
                    };
                    assert!(expected, "{what}: {} compression {codec:?}", c.column_path());
                }
                let sid = rg.columns().iter().find(|c| c.column_path().string() == "stream_id").unwrap();
                assert!(sid.statistics().is_some_and(|s| s.min_bytes_opt().is_some()), "{what}: stream_id statistics");
            }
            // Rows sorted by stream_id, then time.
            let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(&path).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap();
            let mut last: Option<(String, i64)> = None;
            for b in batches {
                let b = b.unwrap();
                let s = b.column_by_name("stream_id").unwrap().as_string::<i32>().clone();
                let t = b.column_by_name(time).unwrap().as_primitive::<TimestampMillisecondType>().clone();
                for i in 0..b.num_rows() {
                    let key = (s.value(i).to_string(), t.value(i));
                    assert!(last.as_ref().is_none_or(|l| *l <= key), "{what}: row {i} out of order");
                    last = Some(key);
                }
                assert_eq!(s.null_count(), 0);
            }
        }
    }
    assert!(sizes[0] > 0 && sizes[1] > 0, "small and large files both checked: {sizes:?}");
}
