//! The written report (`BENCHMARKS.md`): machine, summary table with ratios, targets and verdicts,
//! then each measure's method and notes.

use std::fmt::Write as _;

use super::timing::{factor, human};
use super::{BenchReport, Measure, Target, Verdict};

/// The Markdown document for `report`.
pub fn markdown(report: &BenchReport) -> String {
    let o = &report.options;
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Measured by `rustcare-partitions bench{}` on {} in {}: {} daily partitions per table, \
         {} months × {} audit-log rows. Each figure is compared with a baseline measured in the same \
         run, on the same server, in the same throwaway database; **ratio = ours ÷ baseline** (below 1: \
         ours is faster). Medians of repeated runs unless a measure says otherwise.\n",
        if o.quick { " --quick" } else { "" },
        report.started_at.format("%Y-%m-%d %H:%M UTC"),
        human(report.elapsed),
        o.partitions,
        o.months,
        o.rows_per_month,
    );
    if o.quick {
        let _ = writeln!(
            md,
            "> **Quick run** (smoke test): the sizes are too small for the figures to mean anything.\n"
        );
    }
    let _ = writeln!(
        md,
        "Re-run with `rustcare-partitions bench --out BENCHMARKS.md` (`--partitions N`, `--quick` for a \
         smoke test). It creates and drops its own database on the embedded cluster, or on \
         `DATABASE_URL`'s server when set.\n"
    );
    machine(&mut md, report);
    summary(&mut md, &report.measures);
    let _ = writeln!(md, "## Details\n");
    for m in &report.measures {
        details(&mut md, m);
    }
    md
}

/// One line per measure for a terminal: `title: ours X, baseline Y (ratio) -> result`.
pub fn summary_line(m: &Measure) -> String {
    let baseline = match &m.baseline {
        Ok(b) => format!("{} {}", b.label, human(b.value())),
        Err(why) => format!("baseline not measured ({why})"),
    };
    format!(
        "{}: ours {}, {}; ratio {}; target {}: {}",
        m.title,
        human(m.ours.value()),
        baseline,
        m.ratio().map(factor).unwrap_or_else(|| "n/a".into()),
        target(m.target),
        verdict(m).replace("**", "")
    )
}

fn machine(md: &mut String, report: &BenchReport) {
    let m = &report.machine;
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| CPUs (nproc) | {} |", m.cpus);
    if let Some(load) = &m.load_average {
        let _ = writeln!(
            md,
            "| load average at start (1, 5, 15 min) | {load} (the machine is shared) |"
        );
    }
    if let Some(load) = &m.load_average_end {
        let _ = writeln!(md, "| load average at the end (1, 5, 15 min) | {load} |");
    }
    let _ = writeln!(md, "| PostgreSQL | {} |", m.pg_version);
    let _ = writeln!(md, "| server | {} |", m.server);
    for (name, value) in &m.settings {
        let _ = writeln!(md, "| `{name}` | {value} |");
    }
    let _ = writeln!(md);
}

fn summary(md: &mut String, measures: &[Measure]) {
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(
        md,
        "| Measure | Ours | Baseline | Ratio (ours ÷ baseline) | Target | Result |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---|---|");
    for m in measures {
        let baseline = match &m.baseline {
            Ok(b) => format!("{}: {}", b.label, human(b.value())),
            Err(_) => "not measured".into(),
        };
        let ratio = m.ratio().map(factor).unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            m.title,
            human(m.ours.value()),
            baseline,
            ratio,
            target(m.target),
            verdict(m)
        );
    }
    let _ = writeln!(md);
}

fn target(t: Target) -> String {
    match t {
        Target::MaxMillis(ms) => format!("≤ {ms} ms"),
        Target::MaxRatio(r) => format!("≤ {r}× baseline"),
        Target::ClaimSpeedup(x) => format!("guide: {x}× faster"),
        Target::Informational => "for context".into(),
    }
}

fn verdict(m: &Measure) -> String {
    let faster = match m.speedup() {
        Some(s) if s >= 1.0 => format!("{} faster", factor(s)),
        Some(s) => format!("{} slower", factor(1.0 / s)),
        None => String::new(),
    };
    match m.verdict() {
        Verdict::Pass => "**PASS**".into(),
        Verdict::Fail => "**FAIL**".into(),
        Verdict::Holds => format!("holds ({faster})"),
        Verdict::DoesNotHold => format!("**does not hold** ({faster})"),
        Verdict::Informational => faster,
        Verdict::NotMeasured(why) => format!("baseline not measured: {why}"),
    }
}

fn details(md: &mut String, m: &Measure) {
    let _ = writeln!(md, "### {}\n", m.title);
    let runs = |n: usize| {
        if n == 1 {
            "1 run".to_string()
        } else {
            format!("median of {n} runs")
        }
    };
    let _ = writeln!(
        md,
        "- Ours ({}): **{}** ({})",
        m.ours.label,
        human(m.ours.value()),
        runs(m.ours.samples.len())
    );
    match &m.baseline {
        Ok(b) => {
            let _ = writeln!(
                md,
                "- Baseline ({}): **{}** ({})",
                b.label,
                human(b.value()),
                runs(b.samples.len())
            );
        }
        Err(why) => {
            let _ = writeln!(md, "- Baseline: not measured: {why}");
        }
    }
    let _ = writeln!(
        md,
        "- Ratio: {}; target {}; result: {}",
        m.ratio().map(factor).unwrap_or_else(|| "n/a".into()),
        target(m.target),
        verdict(m)
    );
    for line in &m.method {
        let _ = writeln!(md, "- Method: {line}");
    }
    for line in &m.notes {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(md);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::pg::bench::{BenchOptions, Figure, Machine, Samples};

    fn figure(ms: u64) -> Figure {
        Figure::new("x", Samples::one(Duration::from_millis(ms)))
    }

    fn measure(key: &'static str, ours: u64, base: u64, target: Target) -> Measure {
        Measure {
            key,
            title: key.into(),
            ours: figure(ours),
            baseline: Ok(figure(base)),
            target,
            method: vec!["how".into()],
            notes: vec![],
        }
    }

    #[test]
    fn verdicts_follow_targets() {
        let cases = [
            (
                measure("a", 20, 900, Target::MaxMillis(30.0)),
                Verdict::Pass,
            ),
            (
                measure("b", 31, 900, Target::MaxMillis(30.0)),
                Verdict::Fail,
            ),
            (measure("c", 108, 100, Target::MaxRatio(1.1)), Verdict::Pass),
            (measure("d", 120, 100, Target::MaxRatio(1.1)), Verdict::Fail),
            (
                measure("e", 10, 120, Target::ClaimSpeedup(10.0)),
                Verdict::Holds,
            ),
            (
                measure("f", 10, 30, Target::ClaimSpeedup(10.0)),
                Verdict::DoesNotHold,
            ),
            (
                measure("g", 10, 30, Target::Informational),
                Verdict::Informational,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(m.verdict(), want, "{}", m.key);
        }
        let mut missing = measure("h", 10, 30, Target::MaxRatio(1.1));
        missing.baseline = Err("no pg_partman".into());
        assert_eq!(
            missing.verdict(),
            Verdict::NotMeasured("no pg_partman".into())
        );
    }

    #[test]
    fn report_has_machine_summary_and_every_measure() {
        let report = BenchReport {
            started_at: Utc::now(),
            elapsed: Duration::from_secs(3),
            options: BenchOptions::quick(),
            machine: Machine {
                cpus: 2,
                load_average: Some("0.1 0.2 0.3".into()),
                load_average_end: None,
                pg_version: "15.18".into(),
                server: "embedded cluster".into(),
                settings: vec![("fsync".into(), "on".into())],
            },
            measures: vec![
                measure("create", 108, 100, Target::MaxRatio(1.1)),
                measure("drop_month", 10, 30, Target::ClaimSpeedup(100.0)),
            ],
        };
        let md = markdown(&report);
        for want in [
            "## Machine",
            "| CPUs (nproc) | 2 |",
            "| PostgreSQL | 15.18 |",
            "## Summary",
            "| create | 108.0 ms | x: 100.0 ms | 1.08× | ≤ 1.1× baseline | **PASS** |",
            "**does not hold** (3.00× faster)",
            "### drop_month",
            "Quick run",
        ] {
            assert!(md.contains(want), "missing {want:?} in\n{md}");
        }
    }
}
