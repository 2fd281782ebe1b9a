//! The `shows` dimension of LAKE.md (seller, title, category, planned start, targets), kept by
//! `livelake shows import plan.csv`: every row validated (all problems reported with their line),
//! then upserted by `stream_id` into the table, which is rewritten as one file and swapped in
//! by one Delta commit, under the lake's maintenance lock ([`crate::store::maintenance_lock`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{Decimal128Type, Float64Type, Int64Type, TimestampMillisecondType};
use livelake_schemas::{Decimal4, MONEY, Table};

use crate::error::Result;
use crate::store::delta::{self, Action, LakeUrl, PartitionRows, committed_files, read_files, write_files};
use crate::store::maintenance_lock;

/// One show of the dimension (all but `stream_id` optional).
#[derive(Debug, Clone, PartialEq)]
pub struct ShowRow {
    /// The stream (show) id.
    pub stream_id: String,
    /// Seller.
    pub seller_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Category (for same-category comparisons).
    pub category: Option<String>,
    /// Planned start, epoch ms UTC.
    pub planned_start: Option<i64>,
    /// GMV goal, USD.
    pub target_gmv_usd: Option<Decimal4>,
    /// Viewer goal.
    pub target_viewers: Option<i64>,
    /// Highest acceptable stall ratio (0–1).
    pub max_stall_ratio: Option<f64>,
}

const COLUMNS: [&str; 8] = [
    "stream_id",
    "seller_id",
    "title",
    "category",
    "planned_start",
    "target_gmv_usd",
    "target_viewers",
    "max_stall_ratio",
];

/// Split CSV text into records (quoted fields may hold commas, quotes and newlines), with the
/// line each record starts on; blank lines are not records.
pub fn csv_records(text: &str) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        out.push((line, rec.iter().map(str::to_string).collect()));
    }
    Ok(out)
}

/// A validated plan: its rows and the columns its header names (an import sets those columns
/// and keeps the others of shows already in the table).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Columns the plan sets.
    pub columns: Vec<String>,
    /// Its rows.
    pub rows: Vec<ShowRow>,
}

/// Parse and validate a show plan (CSV with a header naming LAKE.md's `shows` columns, in any
/// order; only `stream_id` is required). Returns every problem, one line each, when any row is bad.
pub fn parse_plan(text: &str, source: &str) -> std::result::Result<Plan, Vec<String>> {
    let records = csv_records(text).map_err(|e| vec![format!("{source}: {e}")])?;
    // Lines of blanks are not rows.
    let mut records = records.into_iter().filter(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()));
    let Some((_, header)) = records.next() else {
        return Err(vec![format!("{source}: empty file (expected a header: {})", COLUMNS.join(","))]);
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut problems = Vec::new();
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            problems.push(format!("{source} line 1: unknown column {h:?} (columns: {})", COLUMNS.join(", ")));
        }
    }
    if !header.iter().any(|h| h == "stream_id") {
        problems.push(format!("{source} line 1: a stream_id column is required"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, rec) in records {
        let at = |msg: String| format!("{source} line {line}: {msg}");
        if rec.len() != header.len() {
            problems.push(at(format!("{} fields, the header has {}", rec.len(), header.len())));
            continue;
        }
        let get = |name: &str| header.iter().position(|h| h == name).map(|i| rec[i].trim()).filter(|v| !v.is_empty());
        let text = |name: &str, max: usize, problems: &mut Vec<String>| {
            let v = get(name)?;
            if v.chars().count() > max {
                problems.push(at(format!("{name} is longer than {max} characters")));
            }
            Some(v.to_string())
        };
        let mut row = ShowRow {
            stream_id: String::new(),
            seller_id: text("seller_id", 128, &mut problems),
            title: text("title", 512, &mut problems),
            category: text("category", 128, &mut problems),
            planned_start: None,
            target_gmv_usd: None,
            target_viewers: None,
            max_stall_ratio: None,
        };
        match text("stream_id", 128, &mut problems) {
            Some(id) => {
                if let Some(first) = seen.insert(id.clone(), line) {
                    problems.push(at(format!("stream_id {id} repeats line {first}")));
                }
                row.stream_id = id;
            }
            None => problems.push(at("stream_id is empty".into())),
        }
        if let Some(v) = get("planned_start") {
            match chrono::DateTime::parse_from_rfc3339(v) {
                Ok(t) => row.planned_start = Some(t.timestamp_millis()),
                Err(_) => problems.push(at(format!("planned_start {v:?} is not an RFC 3339 time"))),
            }
        }
        if let Some(v) = get("target_gmv_usd") {
            match Decimal4::parse(v) {
                Ok(d) if d.0 >= 0 => row.target_gmv_usd = Some(d),
                _ => problems.push(at(format!("target_gmv_usd {v:?} is not an amount ≥ 0 (4 decimals at most)"))),
            }
        }
        if let Some(v) = get("target_viewers") {
            match v.parse::<i64>() {
                Ok(n) if n >= 0 => row.target_viewers = Some(n),
                _ => problems.push(at(format!("target_viewers {v:?} is not a whole number ≥ 0"))),
            }
        }
        if let Some(v) = get("max_stall_ratio") {
            match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => row.max_stall_ratio = Some(r),
                _ => problems.push(at(format!("max_stall_ratio {v:?} is not a fraction between 0 and 1"))),
            }
        }
        rows.push(row);
    }
    if problems.is_empty() { Ok(Plan { columns: header, rows }) } else { Err(problems) }
}

/// Set the columns `plan_columns` names from `new` into `old`.
fn merge(old: &mut ShowRow, new: ShowRow, plan_columns: &[String]) {
    for c in plan_columns {
        match c.as_str() {
            "seller_id" => old.seller_id = new.seller_id.clone(),
            "title" => old.title = new.title.clone(),
            "category" => old.category = new.category.clone(),
            "planned_start" => old.planned_start = new.planned_start,
            "target_gmv_usd" => old.target_gmv_usd = new.target_gmv_usd,
            "target_viewers" => old.target_viewers = new.target_viewers,
            "max_stall_ratio" => old.max_stall_ratio = new.max_stall_ratio,
            _ => {}
        }
    }
}

fn to_batch(rows: &[ShowRow]) -> Result<RecordBatch> {
    let s = |f: fn(&ShowRow) -> Option<&str>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<StringArray>()) };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.stream_id.as_str()))),
        s(|r| r.seller_id.as_deref()),
        s(|r| r.title.as_deref()),
        s(|r| r.category.as_deref()),
        Arc::new(rows.iter().map(|r| r.planned_start).collect::<TimestampMillisecondArray>().with_timezone("UTC")),
        Arc::new(rows.iter().map(|r| r.target_gmv_usd.map(|d| d.0)).collect::<Decimal128Array>().with_data_type(MONEY)),
        Arc::new(rows.iter().map(|r| r.target_viewers).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.max_stall_ratio).collect::<Float64Array>()),
    ];
    Ok(RecordBatch::try_new(Table::Shows.schema(), cols)?)
}

/// The shows in the lake, by `stream_id`.
pub async fn read_shows(lake: &LakeUrl) -> Result<BTreeMap<String, ShowRow>> {
    let mut out = BTreeMap::new();
    let t = Table::Shows;
    let Some(dt) = delta::open_table(lake, t).await? else { return Ok(out) };
    {
        for b in read_files(&dt, &committed_files(&dt, t)?).await? {
            let col = |name: &str| b.column_by_name(name).expect("shows column").clone();
            let (id, seller, title, cat) = (col("stream_id"), col("seller_id"), col("title"), col("category"));
            let (id, seller, title, cat) =
                (id.as_string::<i32>(), seller.as_string::<i32>(), title.as_string::<i32>(), cat.as_string::<i32>());
            let start = col("planned_start");
            let start = start.as_primitive::<TimestampMillisecondType>();
            let gmv = col("target_gmv_usd");
            let gmv = gmv.as_primitive::<Decimal128Type>();
            let viewers = col("target_viewers");
            let viewers = viewers.as_primitive::<Int64Type>();
            let ratio = col("max_stall_ratio");
            let ratio = ratio.as_primitive::<Float64Type>();
            let opt = |a: &arrow::array::StringArray, i| a.is_valid(i).then(|| a.value(i).to_string());
            for i in 0..b.num_rows() {
                let row = ShowRow {
                    stream_id: id.value(i).to_string(),
                    seller_id: opt(seller, i),
                    title: opt(title, i),
                    category: opt(cat, i),
                    planned_start: start.is_valid(i).then(|| start.value(i)),
                    target_gmv_usd: gmv.is_valid(i).then(|| Decimal4(gmv.value(i))),
                    target_viewers: viewers.is_valid(i).then(|| viewers.value(i)),
                    max_stall_ratio: ratio.is_valid(i).then(|| ratio.value(i)),
                };
                out.insert(row.stream_id.clone(), row);
            }
        }
    }
    Ok(out)
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// New shows.
    pub inserted: usize,
    /// Shows whose row was replaced.
    pub updated: usize,
    /// Shows in the table afterwards.
    pub total: usize,
}

/// Upsert a plan by `stream_id` into the lake's `shows` table (a known show gets the plan's
/// columns, keeping the others): one new file replaces the old ones in one Delta commit.
pub async fn upsert(lake: &LakeUrl, plan: Plan) -> Result<Upserted> {
    let _job = maintenance_lock(lake)?;
    let t = Table::Shows;
    let mut dt = delta::open_or_create(lake, t).await?;
    let mut all = read_shows(lake).await?;
    let (mut inserted, mut updated) = (0, 0);
    for row in plan.rows {
        match all.get_mut(&row.stream_id) {
            Some(old) => {
                merge(old, row, &plan.columns);
                updated += 1;
            }
            None => {
                all.insert(row.stream_id.clone(), row);
                inserted += 1;
            }
        }
    }
    let rows: Vec<ShowRow> = all.into_values().collect();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut actions: Vec<Action> = committed_files(&dt, t)?.iter().map(|f| f.remove(true, now_ms)).collect();
    let part = PartitionRows { dir: String::new(), values: Default::default(), batch: to_batch(&rows)? };
    let adds = write_files(&dt, vec![part], |_| format!("shows-{now_ms:013}.parquet"), now_ms).await?;
    actions.extend(adds.into_iter().map(Action::Add));
    crate::store::failpoint::hit("shows_before_commit");
    let info = HashMap::from([("livelake.job".to_string(), serde_json::json!("shows import"))]);
    delta::commit(&mut dt, t, actions, &[], delta::replace_operation(t, "true".into()), info).await?;
    Ok(Upserted { inserted, updated, total: rows.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_every_bad_row_is_named() {
        let good = "stream_id,seller_id,title,category,planned_start,target_gmv_usd,target_viewers,max_stall_ratio\n\
                    s1,seller-a,\"Winter sale, part 1\",beauty,2026-11-27T12:00:00Z,5000.50,3000,0.02\n\
                    s2,,,,,,,\n";
        let rows = parse_plan(good, "plan.csv").unwrap().rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].title.as_deref(), Some("Winter sale, part 1"));
        assert_eq!(rows[0].planned_start, Some(1_795_780_800_000));
        assert_eq!(rows[0].target_gmv_usd, Some(Decimal4(50_005_000)));
        assert_eq!(rows[1], ShowRow { stream_id: "s2".into(), ..rows[1].clone() });
        assert_eq!(rows[1].seller_id, None);

        // Quotes: doubled quotes, and a newline inside a field (the next row's line counts it).
        let quoted = "stream_id,title\n\ns1,\"Say \"\"hi\"\"\nto all\"\n,x\n";
        assert_eq!(parse_plan(quoted, "q.csv").unwrap_err(), vec!["q.csv line 5: stream_id is empty"]);
        let rows = parse_plan(&quoted.replace(",x", "s2,x"), "q.csv").unwrap().rows;
        assert_eq!(rows[0].title.as_deref(), Some("Say \"hi\"\nto all"));

        let bad = "stream_id,planned_start,target_gmv_usd,target_viewers,max_stall_ratio\n\
                   s1,tomorrow,-1,many,1.5\n\
                   ,2026-11-27T12:00:00Z,1,1,0.1\n\
                   s1,,,,\n\
                   s3,,\n";
        let problems = parse_plan(bad, "plan.csv").unwrap_err();
        assert_eq!(
            problems,
            vec![
                "plan.csv line 2: planned_start \"tomorrow\" is not an RFC 3339 time",
                "plan.csv line 2: target_gmv_usd \"-1\" is not an amount ≥ 0 (4 decimals at most)",
                "plan.csv line 2: target_viewers \"many\" is not a whole number ≥ 0",
                "plan.csv line 2: max_stall_ratio \"1.5\" is not a fraction between 0 and 1",
                "plan.csv line 3: stream_id is empty",
                "plan.csv line 4: stream_id s1 repeats line 2",
                "plan.csv line 5: 3 fields, the header has 5",
            ]
        );
        assert_eq!(
            parse_plan("id,title\nx,y\n", "p.csv").unwrap_err(),
            vec![
                "p.csv line 1: unknown column \"id\" (columns: stream_id, seller_id, title, category, planned_start, target_gmv_usd, target_viewers, max_stall_ratio)",
                "p.csv line 1: a stream_id column is required",
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upserts_by_stream_id_in_one_delta_commit() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeUrl::parse(dir.path().to_str().unwrap(), Default::default()).unwrap();
        let first = parse_plan("stream_id,title,target_viewers\na,First,100\nb,Second,200\n", "p").unwrap();
        assert_eq!(upsert(&lake, first).await.unwrap(), Upserted { inserted: 2, updated: 0, total: 2 });
        let second = parse_plan("stream_id,title\nb,Second (moved)\nc,Third\n", "p").unwrap();
        assert_eq!(upsert(&lake, second).await.unwrap(), Upserted { inserted: 1, updated: 1, total: 3 });
        let shows = read_shows(&lake).await.unwrap();
        assert_eq!(shows.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(shows["a"].target_viewers, Some(100));
        assert_eq!(shows["b"].title.as_deref(), Some("Second (moved)"));
        assert_eq!(shows["b"].target_viewers, Some(200), "columns the plan does not name are kept");
        let dt = delta::open_table(&lake, Table::Shows).await.unwrap().unwrap();
        assert_eq!(dt.version(), Some(2), "created, then one commit per import");
        assert_eq!(
            committed_files(&dt, Table::Shows).unwrap().len(),
            1,
            "one file in the table after the second import"
        );
    }
}
