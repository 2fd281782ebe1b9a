//! The example retrospective queries (`docs/queries/*.sql`) over a lake, in process, best of 5
//! runs each (a fresh session per run: tables registered, files listed, footers read). `make
//! bench` runs it beside `bench/duckdb_queries.py` on the same lake and prints the ratios:
//! `cargo run --release --features bench --example bench -- query_bench LAKE [QUERY_DIR]`.

use std::path::PathBuf;
use std::time::Instant;

pub fn main(args: &[String]) {
    let mut args = args.iter().cloned();
    let lake = PathBuf::from(args.next().expect("usage: query_bench LAKE [QUERY_DIR]"));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "docs/queries".into()));
    let mut queries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    queries.sort();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for q in queries {
        let sql = std::fs::read_to_string(&q).unwrap();
        let mut best = f64::MAX;
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let (_, batches) = rt.block_on(async {
                let ctx = livelake_jobs::lake_session();
                let url =
                    livelake_jobs::store::delta::LakeUrl::parse(&lake.to_string_lossy(), Default::default()).unwrap();
                livelake_jobs::register_lake(&ctx, &url).await.unwrap();
                livelake_jobs::run_query(&ctx, &sql).await.unwrap()
            });
            best = best.min(t.elapsed().as_secs_f64());
            rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        println!("{} {best:.4} {rows}", q.file_name().unwrap().to_string_lossy());
    }
}
