//! The report's charts, drawn with plotters as SVG: minute-by-minute lines per region (viewers,
//! stall ratio with stall bursts shaded, exits, orders), the retention curve, and the funnel.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::data::ReportData;
use super::findings::Findings;
use crate::error::{Error, Result};

/// One chart: a file-name-safe id, its title and the SVG text.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Short id (`viewers`, `stall_ratio`, …).
    pub id: &'static str,
    /// Title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

const SIZE: (u32, u32) = (760, 300);
const SHOW_MINUTE: &str = "minute of the show";

fn err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Config(format!("drawing a chart: {e:?}"))
}

/// Every chart's frame: its title, margins and axis label areas.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(32).y_label_area_size(56);
    b
}

/// An x-axis label in minutes: whole minutes only ("10", not "10.0"; none between minutes).
fn whole_minutes(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { String::new() }
}

/// A y-axis label without trailing zeros ("20", "0.05").
fn tidy(y: &f64) -> String {
    let s = format!("{y:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Lines of `series` (name → points), x in minutes; x-ranges in `shade` drawn behind them.
fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    shade: &[(f64, f64)],
) -> Result<String> {
    let x_max = series.iter().flat_map(|s| &s.1).map(|p| p.0).fold(1.0, f64::max);
    let y_max = series.iter().flat_map(|s| &s.1).map(|p| p.1).fold(0.0, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = frame(&root, title).build_cartesian_2d(0f64..x_max, 0f64..y_max).map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&whole_minutes)
            .y_label_formatter(&tidy)
            .draw()
            .map_err(err)?;
        chart
            .draw_series(shade.iter().map(|(a, b)| Rectangle::new([(*a, 0.0), (*b, y_max)], RED.mix(0.15).filled())))
            .map_err(err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Funnel bars: (stage, viewers).
fn bars(title: &str, stages: &[(&str, f64)]) -> Result<String> {
    let y_max = stages.iter().map(|s| s.1).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = frame(&root, title).build_cartesian_2d(0f64..stages.len() as f64, 0f64..y_max).map_err(err)?;
        let names: Vec<String> = stages.iter().map(|s| s.0.to_string()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(stages.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("viewers")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(stages.iter().enumerate().map(|(i, (_, v))| {
                Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, *v)], Palette99::pick(4).filled())
            }))
            .map_err(err)?;
        chart
            .draw_series(stages.iter().enumerate().map(|(i, (_, v))| {
                Text::new(format!("{v:.0}"), (i as f64 + 0.42, v + y_max * 0.03), ("sans-serif", 14))
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Per-region series of one minute figure.
fn per_region(data: &ReportData, figure: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for m in &data.minutes {
        out.entry(m.region.clone()).or_default().push((m.minute as f64, m.get(figure)));
    }
    out.into_iter().collect()
}

/// Every chart of the report.
pub fn charts(data: &ReportData, findings: &Findings) -> Result<Vec<Chart>> {
    let bursts: Vec<(f64, f64)> = findings
        .anomalies
        .iter()
        .filter(|a| a.kind == "stall_burst")
        .map(|a| (a.from_minute as f64, a.to_minute as f64 + 1.0))
        .collect();
    let mut stall = per_region(data, "stall_ratio");
    for (_, points) in &mut stall {
        for p in points.iter_mut() {
            p.1 *= 100.0;
        }
    }
    let retention: Vec<(String, Vec<(f64, f64)>)> = data
        .retention
        .iter()
        .map(|(r, pts)| (r.clone(), pts.iter().map(|(m, v)| (*m as f64, v * 100.0)).collect()))
        .collect();
    let f = |name| data.fig("ALL", name).unwrap_or(0.0);
    Ok(vec![
        Chart {
            id: "viewers",
            title: "Viewers watching, per region".into(),
            svg: lines(
                "Viewers watching (sessions active)",
                SHOW_MINUTE,
                "sessions",
                &per_region(data, "sessions_active"),
                &[],
            )?,
        },
        Chart {
            id: "stall_ratio",
            title: "Stall ratio, per region (stall bursts shaded)".into(),
            svg: lines(
                "Stall ratio (%), stall bursts shaded",
                SHOW_MINUTE,
                "% of watch time stalled",
                &stall,
                &bursts,
            )?,
        },
        Chart {
            id: "exits",
            title: "Exits, per region".into(),
            svg: lines(
                "Exits per minute (stall bursts shaded)",
                SHOW_MINUTE,
                "exits",
                &per_region(data, "exits"),
                &bursts,
            )?,
        },
        Chart {
            id: "orders",
            title: "Orders, per region".into(),
            svg: lines("Orders per minute", SHOW_MINUTE, "orders", &per_region(data, "orders"), &[])?,
        },
        Chart {
            id: "retention",
            title: "Retention: share of sessions still watching".into(),
            svg: lines(
                "Retention after the start of a session",
                "minutes since the session started",
                "% still watching",
                &retention,
                &[],
            )?,
        },
        Chart {
            id: "funnel",
            title: "Funnel (whole show, per viewer, in order)".into(),
            svg: bars(
                "Funnel: first frame → click → cart → order",
                &[
                    ("watched", f("funnel_viewers")),
                    ("clicked", f("funnel_clicked")),
                    ("carted", f("funnel_carted")),
                    ("ordered", f("funnel_ordered")),
                ],
            )?,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_axes_are_labelled_in_whole_minutes() {
        let series = vec![("EU".to_string(), (0..=12).map(|m| (m as f64, (m * m) as f64)).collect())];
        let svg = lines("viewers", SHOW_MINUTE, "viewers", &series, &[]).unwrap();
        let labels: Vec<&str> = svg.split('>').filter_map(|t| t.split_once("</text").map(|(l, _)| l.trim())).collect();
        assert!(labels.contains(&"10"), "whole-minute ticks: {labels:?}");
        assert!(!labels.iter().any(|l| l.contains(".0") && l.parse::<f64>().is_ok()), "no \"10.0\": {labels:?}");
        assert_eq!(whole_minutes(&2.5), "");
        assert_eq!((tidy(&20.0), tidy(&0.05), tidy(&0.0)), ("20".into(), "0.05".into(), "0".into()));
    }
}
