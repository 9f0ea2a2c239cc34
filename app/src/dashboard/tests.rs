use chrono::{DateTime, TimeZone, Utc};
use partitioning::calendar::PartitionBound;
use partitioning::catalog::{PartitionInfo, TableCatalog};
use partitioning::table::ManagedTable;

use super::*;

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn part(name: &str, lower: DateTime<Utc>, upper: DateTime<Utc>) -> PartitionInfo {
    PartitionInfo::range(1, name, PartitionBound::new(lower, upper))
}

/// rate_limits, daily: 2025-03-01 .. 2025-03-06 with a hole on the 4th.
fn sample() -> TableCatalog {
    let mut c = TableCatalog::empty(ManagedTable::RateLimits, 42);
    for d in [1, 2, 3, 5] {
        let mut p = part(
            &format!("rate_limits_2025_03_{d:02}"),
            day(2025, 3, d),
            day(2025, 3, d + 1),
        );
        p.bytes = i64::from(d) * 1000;
        p.est_rows = i64::from(d);
        c.partitions.push(p);
    }
    c
}

#[test]
fn coverage_stops_at_the_first_hole() {
    let c = sample();
    for (now, want) in [
        (day(2025, 3, 1), Some(day(2025, 3, 4))),
        (
            day(2025, 3, 2) + chrono::Duration::hours(5),
            Some(day(2025, 3, 4)),
        ),
        (day(2025, 3, 4), None),
        (day(2025, 3, 5), Some(day(2025, 3, 6))),
        (day(2025, 2, 28), None),
    ] {
        assert_eq!(covered_until(&c, now), want, "now {now}");
    }
}

#[test]
fn statuses_by_time_and_flags() {
    let now = day(2025, 3, 2) + chrono::Duration::hours(3);
    let cutoff = day(2025, 3, 2);
    let p = |d: u32| part("p", day(2025, 3, d), day(2025, 3, d + 1));
    let mut sealed = p(1);
    sealed.sealed = true;
    let mut pending = p(3);
    pending.detach_pending = true;
    for (info, want) in [
        (p(1), PartitionStatus::PastRetention),
        (p(2), PartitionStatus::Current),
        (p(3), PartitionStatus::Future),
        (pending, PartitionStatus::DetachPending),
        (sealed, PartitionStatus::PastRetention),
    ] {
        assert_eq!(status_of(&info, now, cutoff), want, "{info:?}");
    }
    let mut sealed_kept = part("p", day(2025, 3, 1), day(2025, 3, 2));
    sealed_kept.sealed = true;
    assert_eq!(
        status_of(&sealed_kept, now, day(2025, 1, 1)),
        PartitionStatus::Sealed
    );
    assert_eq!(
        status_of(
            &part("p", day(2025, 3, 1), day(2025, 3, 2)),
            now,
            day(2025, 1, 1)
        ),
        PartitionStatus::Closed
    );
}

#[test]
fn pages_filter_sort_and_clamp() {
    let now = day(2025, 3, 2) + chrono::Duration::hours(3);
    let rows = partition_rows(&sample(), now, day(2025, 3, 2));
    let names = |p: &PartitionPage| {
        p.rows
            .iter()
            .map(|r| r.name[20..].to_string())
            .collect::<Vec<_>>()
    };
    let q = |sort, desc, status, name: &str, page, per_page| PartitionQuery {
        sort,
        desc,
        status,
        name: name.into(),
        page,
        per_page,
    };
    for (query, want, matching, pages) in [
        (
            q(SortKey::Bounds, false, None, "", 1, 0),
            vec!["01", "02", "03", "05"],
            4,
            1,
        ),
        (
            q(SortKey::Size, true, None, "", 1, 2),
            vec!["05", "03"],
            4,
            2,
        ),
        (
            q(SortKey::Size, true, None, "", 9, 2),
            vec!["02", "01"],
            4,
            2,
        ),
        (
            q(
                SortKey::Bounds,
                false,
                Some(PartitionStatus::Future),
                "",
                1,
                10,
            ),
            vec!["03", "05"],
            2,
            1,
        ),
        (
            q(SortKey::Name, false, None, "_05", 1, 10),
            vec!["05"],
            1,
            1,
        ),
        (
            q(SortKey::Bounds, false, None, "nothing", 1, 10),
            vec![],
            0,
            1,
        ),
    ] {
        let page = page_of(
            ManagedTable::RateLimits,
            rows.clone(),
            &query,
            now,
            day(2025, 3, 2),
        );
        assert_eq!(names(&page), want, "{query:?}");
        assert_eq!(
            (page.matching, page.pages, page.total),
            (matching, pages, 4),
            "{query:?}"
        );
    }
}

#[test]
fn status_keys_round_trip() {
    for s in PartitionStatus::ALL {
        assert_eq!(PartitionStatus::parse(s.key()), Some(s));
    }
    assert_eq!(SortKey::parse("size"), SortKey::Size);
    assert_eq!(SortKey::parse("bogus"), SortKey::Bounds);
}
