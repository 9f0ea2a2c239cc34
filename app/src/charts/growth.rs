//! Growth over time: the table's total size at each background size sample.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::{byte_unit, tick_label, ticks, Frame};
use crate::dashboard::series::GrowthPoint;
use crate::format::human_bytes;

fn x_of(f: &Frame, t: DateTime<Utc>, lo: DateTime<Utc>, hi: DateTime<Utc>) -> f64 {
    let span = (hi - lo).num_seconds().max(1) as f64;
    f.left + f.inner_width() * ((t - lo).num_seconds() as f64 / span)
}

#[component]
pub fn GrowthLine(points: Vec<GrowthPoint>, sample_minutes: u64) -> impl IntoView {
    let f = Frame::standard();
    let (Some(first), Some(last)) = (points.first().copied(), points.last().copied()) else {
        return view! {
            <figure class="chart" data-testid="chart-growth">
                <figcaption>"Total size over time"</figcaption>
                <p class="muted">"No size samples yet: the server samples every " {sample_minutes} " minutes, starting when it starts."</p>
            </figure>
        }
        .into_any();
    };
    // A single sample still gets a readable axis: one hour either side.
    let (lo, hi) = if first.at == last.at {
        (
            first.at - chrono::Duration::hours(1),
            last.at + chrono::Duration::hours(1),
        )
    } else {
        (first.at, last.at)
    };
    let max = points.iter().map(|p| p.bytes).max().unwrap_or(0) as f64;
    let (unit, div) = byte_unit(max);
    let tick_values = ticks(max / div, 5);
    let top = tick_values.last().copied().unwrap_or(1.0) * div;
    let path: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "{:.1},{:.1}",
                x_of(&f, p.at, lo, hi),
                f.y(p.bytes as f64, top)
            )
        })
        .collect();
    let grid = tick_values
        .iter()
        .map(|t| {
            let y = f.y(t * div, top);
            view! {
                <line class="grid" x1=f.left x2=f.width - f.right y1=y y2=y/>
                <text class="tick" x=f.left - 6.0 y=y + 4.0 text-anchor="end">{tick_label(*t)}</text>
            }
        })
        .collect_view();
    let base = f.top + f.inner_height();
    let time_fmt = if (hi - lo).num_hours() > 48 {
        "%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    let x_ticks = (0..=4)
        .map(|i| {
            let t = lo + (hi - lo) * i / 4;
            let x = x_of(&f, t, lo, hi);
            view! {
                <line class="axis" x1=x x2=x y1=base y2=base + 5.0/>
                <text class="tick" x=x y=base + 20.0 text-anchor=match i { 0 => "start", 4 => "end", _ => "middle" }>{t.format(time_fmt).to_string()}</text>
            }
        })
        .collect_view();
    let dots = points
        .iter()
        .map(|p| {
            view! {
                <circle class="dot" cx=x_of(&f, p.at, lo, hi) cy=f.y(p.bytes as f64, top) r=3>
                    <title>{format!("{}: {}", p.at.format("%Y-%m-%d %H:%M UTC"), human_bytes(p.bytes))}</title>
                </circle>
            }
        })
        .collect_view();
    let summary = match points.len() {
        1 => format!("1 sample, {}", human_bytes(first.bytes)),
        n => format!(
            "{n} samples, {} → {}",
            human_bytes(first.bytes),
            human_bytes(last.bytes)
        ),
    };
    view! {
        <figure class="chart" data-testid="chart-growth">
            <figcaption>"Total size over time " <span class="muted">"(" {summary} ")"</span></figcaption>
            <svg viewBox=f.view_box() role="img" aria-label="Line chart: total size of the table at each size sample">
                {grid}
                <polyline class="line" points=path.join(" ")/>
                {dots}
                {x_ticks}
                <line class="axis" x1=f.left x2=f.left y1=f.top y2=base/>
                <line class="axis" x1=f.left x2=f.width - f.right y1=base y2=base/>
                <text class="axis-label" x=16 y=f.top + f.inner_height() / 2.0 text-anchor="middle"
                    transform=format!("rotate(-90 16 {})", f.top + f.inner_height() / 2.0)>
                    {format!("Total size ({unit})")}
                </text>
                <text class="axis-label" x=f.left + f.inner_width() / 2.0 y=f.height - 8.0 text-anchor="middle">"Sample time (UTC)"</text>
            </svg>
            <ul class="legend">
                <li><span class="swatch line-swatch"></span>"total size, sampled every " {sample_minutes} " min"</li>
            </ul>
        </figure>
    }
    .into_any()
}
