//! The partitions on a time line, against the retention window (cutoff → now) and the ahead
//! window (now → the end the policy asks for): gaps, missing future partitions and partitions
//! past retention are visible at a glance.

use chrono::{DateTime, Datelike, Utc};
use leptos::prelude::*;

use super::bars::Legend;
use super::{status_class, Frame};
use crate::dashboard::series::Timeline;
use crate::dashboard::PartitionStatus;

#[component]
pub fn PartitionTimeline(timeline: Timeline) -> impl IntoView {
    let f = Frame {
        height: 190.0,
        bottom: 50.0,
        ..Frame::standard()
    };
    let (lo, hi) = timeline.span();
    let span = (hi - lo).num_seconds().max(1) as f64;
    let x =
        move |t: DateTime<Utc>| f.left + f.inner_width() * ((t - lo).num_seconds() as f64 / span);
    let band_top = f.top + 26.0;
    let band_h = 60.0;
    let base = f.top + f.inner_height();
    let mut statuses: Vec<PartitionStatus> = Vec::new();
    for s in &timeline.segments {
        if !statuses.contains(&s.status) {
            statuses.push(s.status);
        }
    }
    let segments = timeline
        .segments
        .iter()
        .map(|s| {
            let x0 = x(s.lower);
            let w = (x(s.upper) - x0).max(0.8);
            view! {
                <rect class=format!("seg {}", status_class(s.status)) x=x0 y=band_top width=w height=band_h>
                    <title>{format!("{}: {} → {} ({})", s.name, s.lower.format("%Y-%m-%d"), s.upper.format("%Y-%m-%d"), s.status.word())}</title>
                </rect>
            }
        })
        .collect_view();
    let days = (hi - lo).num_days();
    let year_ticks = days > 3 * 365;
    let ticks = (0..=6)
        .map(|i| {
            let t = lo + (hi - lo) * i / 6;
            let label = if year_ticks {
                t.year().to_string()
            } else {
                t.format("%Y-%m-%d").to_string()
            };
            let tx = x(t);
            view! {
                <line class="axis" x1=tx x2=tx y1=base y2=base + 5.0/>
                // The end ticks align inward so their labels are not cut off at the edges.
                <text class="tick" x=tx y=base + 20.0 text-anchor=match i { 0 => "start", 6 => "end", _ => "middle" }>{label}</text>
            }
        })
        .collect_view();
    let (cx, nx, ax) = (x(timeline.cutoff), x(timeline.now), x(timeline.ahead_end));
    view! {
        <figure class="chart" data-testid="chart-timeline">
            <figcaption>"Partitions against the retention and ahead windows"</figcaption>
            <svg viewBox=f.view_box() role="img" aria-label="Time line of partitions with the retention cutoff, now, and the end of the ahead window">
                <rect class="window-retention" x=cx y=f.top width=(nx - cx).max(0.0) height=f.inner_height()/>
                <rect class="window-ahead" x=nx y=f.top width=(ax - nx).max(0.0) height=f.inner_height()/>
                {segments}
                <line class="marker cutoff" x1=cx x2=cx y1=f.top y2=base/>
                <text class="marker-label" x=cx + 4.0 y=f.top + 12.0>"retention cutoff " {timeline.cutoff.format("%Y-%m-%d").to_string()}</text>
                <line class="marker now" x1=nx x2=nx y1=f.top y2=base/>
                <text class="marker-label" x=nx - 4.0 y=band_top + band_h + 18.0 text-anchor="end">"now"</text>
                <line class="marker ahead" x1=ax x2=ax y1=f.top y2=base/>
                <text class="marker-label" x=ax - 4.0 y=f.top + 12.0 text-anchor="end">"ahead until " {timeline.ahead_end.format("%Y-%m-%d").to_string()}</text>
                <line class="axis" x1=f.left x2=f.width - f.right y1=base y2=base/>
                {ticks}
                <text class="axis-label" x=f.left + f.inner_width() / 2.0 y=f.height - 4.0 text-anchor="middle">"Partition bounds (UTC)"</text>
            </svg>
            <ul class="legend">
                <li><span class="swatch window-retention"></span>"retention window"</li>
                <li><span class="swatch window-ahead"></span>"ahead window"</li>
            </ul>
            <Legend statuses/>
        </figure>
    }
}
