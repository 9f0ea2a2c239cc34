//! Wall-clock samples of benchmark runs and how they are summarised (the median) and printed.

use std::time::Duration;

/// The wall-clock times of repeated runs of one thing.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn one(d: Duration) -> Samples {
        Samples(vec![d])
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The median: robust against the odd run slowed down by the other work of a shared machine.
    pub fn median(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        match v.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.0.iter().min().copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.0.iter().max().copied().unwrap_or_default()
    }

    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `0.42 ms`, `12.3 ms`, `1.24 s`, `3 min 05 s`: enough digits to compare, no more.
pub fn human(d: Duration) -> String {
    let ms = millis(d);
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let secs = d.as_secs();
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

/// `0.013×`, `1.08×`, `42×`.
pub fn factor(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x < 0.1 {
        format!("{x:.3}×")
    } else if x < 10.0 {
        format!("{x:.2}×")
    } else {
        format!("{x:.0}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Samples {
        Samples(v.iter().map(|m| Duration::from_millis(*m)).collect())
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(ms(&[30, 10, 20]).median(), Duration::from_millis(20));
        assert_eq!(ms(&[40, 10, 20, 30]).median(), Duration::from_millis(25));
        assert_eq!(ms(&[]).median(), Duration::ZERO);
        assert_eq!(ms(&[5, 1, 9]).min(), Duration::from_millis(1));
        assert_eq!(ms(&[5, 1, 9]).max(), Duration::from_millis(9));
    }

    #[test]
    fn human_units() {
        assert_eq!(human(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(human(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(human(Duration::from_millis(1_240)), "1.24 s");
        assert_eq!(human(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(factor(0.0125), "0.013×");
        assert_eq!(factor(1.084), "1.08×");
        assert_eq!(factor(41.7), "42×");
        assert_eq!(factor(f64::NAN), "n/a");
    }
}
