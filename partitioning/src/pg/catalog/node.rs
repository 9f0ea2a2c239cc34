//! Reading a partition's bound from `pg_class.relpartbound` (the stored node tree, as text) without
//! `pg_get_expr`: deparsing 10,000 bounds costs the server more than the rest of the snapshot.
//!
//! Only the one shape the tool creates is read here: a range bound with a single `timestamptz`
//! datum on each side. Anything else (a default partition excepted) is `Unknown`, and the caller
//! asks PostgreSQL to deparse it. A decoded bound is trusted only when it equals the bound the
//! partition's name stands for (see `catalog::snapshot`), so a misread can never pass as ours.

use chrono::{DateTime, Utc};

use crate::calendar::PartitionBound;

/// `timestamptz` (`TIMESTAMPTZOID`).
const TIMESTAMPTZ: &str = "1184";
/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// What a stored bound says, as far as this reader can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeBound {
    /// `FOR VALUES FROM (a) TO (b)` on one `timestamptz` column, read little-endian.
    Range(PartitionBound),
    /// `DEFAULT`.
    Default,
    /// Another shape (list, hash, MINVALUE/MAXVALUE, other types, several columns): deparse it.
    Unknown,
}

/// Reads `{PARTITIONBOUNDSPEC :strategy r :is_default false ... :lowerdatums (...) :upperdatums
/// (...) ...}` in one forward pass over fixed prefixes and short scans: it runs for every
/// partition, and whole-string searches cost more than the rest of the snapshot's client side.
pub(super) fn read(node: &str) -> NodeBound {
    const SPEC: &str = "{PARTITIONBOUNDSPEC :strategy r :is_default ";
    match node.strip_prefix(SPEC) {
        Some(rest) if rest.starts_with("true ") => NodeBound::Default,
        Some(rest) => decode_range(rest).map_or(NodeBound::Unknown, NodeBound::Range),
        None => NodeBound::Unknown,
    }
}

fn decode_range(rest: &str) -> Option<PartitionBound> {
    let rest = rest.strip_prefix("false :modulus 0 :remainder 0 :listdatums <> :lowerdatums (")?;
    let (lower, rest) = datum(rest)?;
    let rest = rest.strip_prefix(" :upperdatums (")?;
    let (upper, _) = datum(rest)?;
    Some(PartitionBound::new(lower, upper))
}

/// The single `timestamptz` constant of a datum list, and the text after the list's `)`.
fn datum(list: &str) -> Option<(DateTime<Utc>, &str)> {
    let rest = list.strip_prefix("{PARTITIONRANGEDATUM :kind 0 :value {CONST :consttype ")?;
    let rest = rest.strip_prefix(TIMESTAMPTZ)?.strip_prefix(' ')?;
    let (_, rest) = rest.split_once(" :constlen 8 :constbyval true :constisnull false ")?;
    let (_, rest) = rest.split_once(" :constvalue 8 [ ")?;
    let (bytes, rest) = rest.split_once(" ]}")?;
    // ` :location N}` closes this datum; `)` must follow at once: one datum in the list.
    let (location, rest) = rest.split_once('}')?;
    if location.contains('{') {
        return None;
    }
    let rest = rest.strip_prefix(')')?;
    let mut raw = [0u8; 8];
    let mut parts = bytes.split(' ');
    for b in &mut raw {
        // The node prints each byte as a signed char.
        *b = parts.next()?.parse::<i8>().ok()? as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    let micros = i64::from_le_bytes(raw);
    let secs = micros
        .div_euclid(1_000_000)
        .checked_add(PG_EPOCH_UNIX_SECS)?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1_000).ok()?;
    Some((DateTime::from_timestamp(secs, nanos)?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// What PostgreSQL 15 stores for `FOR VALUES FROM ('2020-01-01 00:00:00+00') TO
    /// ('2020-01-02 00:00:00+00')` (copied from `pg_class.relpartbound`).
    const SESSIONS_2020_01_01: &str = "{PARTITIONBOUNDSPEC :strategy r :is_default false :modulus 0 :remainder 0 :listdatums <> :lowerdatums ({PARTITIONRANGEDATUM :kind 0 :value {CONST :consttype 1184 :consttypmod -1 :constcollid 0 :constlen 8 :constbyval true :constisnull false :location 72 :constvalue 8 [ 0 96 -62 -122 7 62 2 0 ]} :location 72}) :upperdatums ({PARTITIONRANGEDATUM :kind 0 :value {CONST :consttype 1184 :consttypmod -1 :constcollid 0 :constlen 8 :constbyval true :constisnull false :location 102 :constvalue 8 [ 0 -64 -103 -92 27 62 2 0 ]} :location 102}) :location 66}";

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn reads_a_daily_range() {
        assert_eq!(
            read(SESSIONS_2020_01_01),
            NodeBound::Range(PartitionBound::from_dates(day(2020, 1, 1), day(2020, 1, 2)))
        );
    }

    #[test]
    fn reads_a_default() {
        let node = "{PARTITIONBOUNDSPEC :strategy r :is_default true :modulus 0 :remainder 0 :listdatums <> :lowerdatums <> :upperdatums <> :location 40}";
        assert_eq!(read(node), NodeBound::Default);
    }

    #[test]
    fn other_shapes_are_unknown() {
        let swap = |from: &str, to: &str| read(&SESSIONS_2020_01_01.replacen(from, to, 1));
        // timestamp without time zone, MINVALUE, a null, a list partition, a 7-byte value.
        assert_eq!(
            swap(":consttype 1184", ":consttype 1114"),
            NodeBound::Unknown
        );
        assert_eq!(swap(":kind 0", ":kind -1"), NodeBound::Unknown);
        assert_eq!(
            swap(":constisnull false", ":constisnull true"),
            NodeBound::Unknown
        );
        assert_eq!(swap(":strategy r", ":strategy l"), NodeBound::Unknown);
        assert_eq!(
            swap("0 96 -62 -122 7 62 2 0", "0 96 -62 -122 7 62 2"),
            NodeBound::Unknown
        );
        assert_eq!(swap("2 0 ]", "2 0 9 ]"), NodeBound::Unknown);
        assert_eq!(read(""), NodeBound::Unknown);
        assert_eq!(read("garbage"), NodeBound::Unknown);
    }

    #[test]
    fn two_column_bounds_are_unknown() {
        // A second datum in the lower list: a multi-column key, not ours.
        let lower = "{PARTITIONRANGEDATUM :kind 0 :value {CONST :consttype 1184 :consttypmod -1 :constcollid 0 :constlen 8 :constbyval true :constisnull false :location 72 :constvalue 8 [ 0 96 -62 -122 7 62 2 0 ]} :location 72}";
        let two = SESSIONS_2020_01_01.replacen(lower, &format!("{lower} {lower}"), 1);
        assert_eq!(read(&two), NodeBound::Unknown);
    }
}
