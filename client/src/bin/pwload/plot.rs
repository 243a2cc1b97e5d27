//! `--sweep ... --plot FILE.png`: latency and throughput against
//! concurrency, drawn with plotters' bitmap backend. Text needs a TrueType
//! font: the first of a few common system fonts, or `PWLOAD_FONT`.

// Counts and milliseconds as floats for statistics and axes: no loss
// that matters at these magnitudes.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::report::Report;

const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn load_font() -> Result<()> {
    let chosen = std::env::var("PWLOAD_FONT").ok();
    let path = chosen
        .iter()
        .map(String::as_str)
        .chain(FONTS)
        .find(|p| Path::new(p).is_file())
        .ok_or_else(|| {
            anyhow!("no TrueType font for the plot: install fonts-liberation or set PWLOAD_FONT")
        })?;
    let bytes: &'static [u8] = Vec::leak(std::fs::read(path).with_context(|| path.to_owned())?);
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{path} is not a usable font"))
}

/// One PNG, two panels: latency p50 (solid) and p99 (thin) per route, and
/// total throughput, each against the number of concurrent users.
pub fn sweep(reports: &[Report], file: &Path) -> Result<()> {
    load_font()?;
    let root = BitMapBackend::new(file, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(640);
    let max_users = reports.iter().map(|r| r.users).max().unwrap_or(1) as f64;
    let x_range = 0f64..max_users * 1.05;

    let max_ms = reports
        .iter()
        .flat_map(|r| r.routes.values().map(|x| x.latency_ms.p99))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&left)
        .caption("latency by route (p50 thick, p99 thin)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), 0f64..max_ms * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("concurrent users")
        .y_desc("ms")
        .draw()?;
    let routes: Vec<&str> = reports
        .iter()
        .flat_map(|r| r.routes.keys().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for (i, route) in routes.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = |f: fn(&crate::report::Latency) -> f64| -> Vec<(f64, f64)> {
            reports
                .iter()
                .filter_map(|r| {
                    r.routes
                        .get(route)
                        .map(|x| (r.users as f64, f(&x.latency_ms)))
                })
                .collect()
        };
        chart
            .draw_series(LineSeries::new(points(|l| l.p50), color.stroke_width(3)))?
            .label(*route)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart.draw_series(LineSeries::new(points(|l| l.p99), color.stroke_width(1)))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;

    let max_rps = reports.iter().map(|r| r.throughput_rps).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&right)
        .caption("throughput, all routes", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, 0f64..max_rps * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("concurrent users")
        .y_desc("requests / s")
        .draw()?;
    let points: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| (r.users as f64, r.throughput_rps))
        .collect();
    chart.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(3)))?;
    chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, BLUE.filled())))?;
    root.present()?;
    Ok(())
}
