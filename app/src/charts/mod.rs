//! Charts drawn as SVG by Leptos components (no chart library: small WASM, readable markup that
//! tests can query). Each chart has axis labels with units and a legend; colours follow the
//! partition status classes of `style/main.css`, and every colour also has its word.

pub mod bars;
pub mod growth;
pub mod timeline;

use crate::dashboard::PartitionStatus;

/// The chart's drawing box inside its viewBox: margins leave room for axis labels.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub const fn standard() -> Frame {
        Frame {
            width: 960.0,
            height: 300.0,
            left: 78.0,
            right: 20.0,
            top: 16.0,
            bottom: 64.0,
        }
    }
    pub fn inner_width(&self) -> f64 {
        self.width - self.left - self.right
    }
    pub fn inner_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }
    /// y of `value` on a 0..max scale.
    pub fn y(&self, value: f64, max: f64) -> f64 {
        let max = if max > 0.0 { max } else { 1.0 };
        self.top + self.inner_height() * (1.0 - value / max)
    }
}

/// A byte unit that keeps axis numbers short, with its divisor.
pub fn byte_unit(max: f64) -> (&'static str, f64) {
    const UNITS: [(&str, f64); 5] = [
        ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
        ("bytes", 1.0),
    ];
    UNITS
        .into_iter()
        .find(|(_, d)| max >= *d)
        .unwrap_or(("bytes", 1.0))
}

/// Round tick values from 0 up to at least `max` (about `n` steps of 1, 2 or 5 × 10^k).
pub fn ticks(max: f64, n: usize) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = vec![0.0];
    while out.last().is_some_and(|v| *v < max) {
        let next = out.len() as f64 * step;
        out.push(next);
    }
    out
}

/// A tick label: no trailing zeros (`2.5`, `10`).
pub fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// The fill class of a status (`st-future` …), shared by charts, badges and legends.
pub fn status_class(s: PartitionStatus) -> String {
    format!("st-{}", s.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_max() {
        for (max, want) in [
            (7.0, vec![0.0, 2.0, 4.0, 6.0, 8.0]),
            (100.0, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
            (0.3, vec![0.0, 0.1, 0.2, 0.30000000000000004]),
            (0.0, vec![0.0, 1.0]),
        ] {
            assert_eq!(ticks(max, 5), want, "max {max}");
        }
    }

    #[test]
    fn units_fit_the_largest_value() {
        assert_eq!(byte_unit(500.0).0, "bytes");
        assert_eq!(byte_unit(8192.0).0, "KiB");
        assert_eq!(byte_unit(3.0 * 1024.0 * 1024.0 * 1024.0).0, "GiB");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(10.0), "10");
    }
}
