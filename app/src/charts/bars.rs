//! Size per partition: one bar per partition (the newest ones), coloured and labelled by status.

use leptos::prelude::*;

use super::{byte_unit, status_class, tick_label, ticks, Frame};
use crate::dashboard::series::Bar;
use crate::dashboard::PartitionStatus;
use crate::format::human_bytes;

#[component]
pub fn SizeBars(bars: Vec<Bar>, omitted: usize) -> impl IntoView {
    // Taller at the bottom than the other charts: the partition names stand at 45° below the
    // axis (a `2026_12_04` reaches ~55 px down) and must clear the axis title.
    let f = Frame {
        height: 332.0,
        bottom: 96.0,
        ..Frame::standard()
    };
    let max = bars.iter().map(|b| b.bytes).max().unwrap_or(0) as f64;
    let (unit, div) = byte_unit(max);
    let tick_values = ticks(max / div, 5);
    let top = tick_values.last().copied().unwrap_or(1.0) * div;
    let n = bars.len().max(1) as f64;
    let slot = f.inner_width() / n;
    let width = (slot * 0.8).max(1.0);
    // Label every k-th bar so names never overlap: parallel 45° labels of 12 px type need about
    // 18 px between them along the axis.
    let every = ((n * 18.0) / f.inner_width()).ceil().max(1.0) as usize;
    let mut statuses: Vec<PartitionStatus> = Vec::new();
    for b in &bars {
        if !statuses.contains(&b.status) {
            statuses.push(b.status);
        }
    }
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
    let rects = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = f.left + slot * i as f64 + (slot - width) / 2.0;
            let y = f.y(b.bytes as f64, top);
            let h = (f.top + f.inner_height() - y).max(0.0);
            let label = (i % every == 0).then(|| {
                let lx = x + width / 2.0;
                let ly = f.top + f.inner_height() + 8.0;
                view! {
                    <text class="tick" x=lx y=ly text-anchor="end" transform=format!("rotate(-45 {lx} {ly})")>
                        {short_name(&b.label)}
                    </text>
                }
            });
            view! {
                <rect class=format!("bar {}", status_class(b.status)) x=x y=y width=width height=h>
                    <title>{format!("{}: {} ({})", b.label, human_bytes(b.bytes), b.status.word())}</title>
                </rect>
                {label}
            }
        })
        .collect_view();
    let note = (omitted > 0).then(|| {
        format!("The {omitted} older partitions are left out; the table below lists them all.")
    });
    view! {
        <figure class="chart" data-testid="chart-size">
            <figcaption>"Size per partition (newest " {bars.len()} ")"</figcaption>
            <svg viewBox=f.view_box() role="img" aria-label="Bar chart: estimated size of each partition">
                {grid}
                {rects}
                <line class="axis" x1=f.left x2=f.left y1=f.top y2=f.top + f.inner_height()/>
                <line class="axis" x1=f.left x2=f.width - f.right y1=f.top + f.inner_height() y2=f.top + f.inner_height()/>
                <text class="axis-label" x=16 y=f.top + f.inner_height() / 2.0 text-anchor="middle"
                    transform=format!("rotate(-90 16 {})", f.top + f.inner_height() / 2.0)>
                    {format!("Size ({unit})")}
                </text>
                <text class="axis-label" x=f.left + f.inner_width() / 2.0 y=f.height - 2.0 text-anchor="middle">"Partition (oldest → newest)"</text>
            </svg>
            <Legend statuses/>
            {note.map(|n| view! { <p class="muted footnote">{n}</p> })}
        </figure>
    }
}

/// The date part of a partition name (`sessions_2025_10_01` → `2025_10_01`).
fn short_name(name: &str) -> String {
    match name.find(|c: char| c.is_ascii_digit()) {
        Some(i) => name[i..].to_string(),
        None => name.to_string(),
    }
}

/// Colour swatches with their words.
#[component]
pub fn Legend(statuses: Vec<PartitionStatus>) -> impl IntoView {
    view! {
        <ul class="legend">
            {statuses
                .into_iter()
                .map(|s| view! {
                    <li><span class=format!("swatch {}", status_class(s))></span>{s.word()}</li>
                })
                .collect_view()}
        </ul>
    }
}
