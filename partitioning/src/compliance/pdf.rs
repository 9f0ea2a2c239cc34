//! The report as a PDF (pdf-writer, base-14 Helvetica, so nothing is embedded or downloaded): US
//! Letter landscape, tables that continue across pages with their header repeated, "Page i of n"
//! and the SHA-256 of the report's CSV in every page's footer, so a printed page ties to the data.
//! Deterministic: no random ids, the creation date is the report's generation time, so rendering
//! the same report again gives the same bytes.

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::{Content, Date, Name, Pdf, Rect, Ref, Str, TextStr};

use super::ComplianceReport;

pub(crate) mod layout;
mod metrics;
pub(crate) mod sections;

use layout::{Op, GREY};
use sections::lay_out;

fn pdf_date(t: DateTime<Utc>) -> Date {
    // PDF dates hold years 0..=9999; chrono's range is wider.
    let year = u16::try_from(t.year().clamp(0, 9999)).unwrap_or(0);
    Date::new(year)
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn emit(content: &mut Content, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold,
            color,
            text,
        } => {
            let font = if *bold { b"F2".as_slice() } else { b"F1" };
            let bytes = metrics::encode(text);
            content
                .set_fill_rgb(color.0, color.1, color.2)
                .begin_text()
                .set_font(Name(font), *size)
                .next_line(*x, *y)
                .show(Str(&bytes))
                .end_text();
        }
        Op::Fill { x, y, w, h, color } => {
            content
                .set_fill_rgb(color.0, color.1, color.2)
                .rect(*x, *y, *w, *h)
                .fill_nonzero();
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            color,
        } => {
            content
                .set_stroke_rgb(color.0, color.1, color.2)
                .set_line_width(0.4)
                .move_to(*x1, *y1)
                .line_to(*x2, *y2)
                .stroke();
        }
    }
}

/// The PDF bytes of `report`; `csv_sha256` (hex) is printed in every page's footer.
pub fn render(report: &ComplianceReport, csv_sha256: &str) -> Vec<u8> {
    let layout = lay_out(report, csv_sha256);
    let n = layout.pages.len();
    let s = &report.scope;
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let page_ids: Vec<Ref> = (0..n).map(|i| Ref::new(6 + 2 * i as i32)).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(n as i32);
    for (id, name) in [(regular_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!("HIPAA retention compliance report {} to {}", s.from, s.to);
    pdf.document_info(info_id)
        .title(TextStr(&title))
        .author(TextStr(&s.generated_by))
        .producer(TextStr("RustCare Partitions"))
        .creation_date(pdf_date(s.generated_at));
    let running = format!(
        "HIPAA retention compliance report  |  {} to {}  |  {}",
        s.from,
        s.to,
        s.tables
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let footer2 = format!(
        "Generated {} by {}. The report's CSV file with this SHA-256 carries the same findings.",
        s.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        s.generated_by
    );
    for (i, ops) in layout.pages.iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut c = Content::new();
        for op in ops {
            emit(&mut c, op);
        }
        let top = layout::PAGE_H - layout::MARGIN - 9.0;
        let right = layout::MARGIN + layout::WIDTH;
        let page_no = format!("Page {} of {n}", i + 1);
        let hash = format!("CSV SHA-256: {csv_sha256}");
        let chrome = [
            (layout::MARGIN, top, 8.0, false, running.as_str()),
            (
                right - metrics::text_width("RustCare Partitions", 8.0, true),
                top,
                8.0,
                true,
                "RustCare Partitions",
            ),
            (
                layout::MARGIN,
                layout::MARGIN + 14.0,
                8.0,
                true,
                hash.as_str(),
            ),
            (
                right - metrics::text_width(&page_no, 9.0, true),
                layout::MARGIN + 14.0,
                9.0,
                true,
                page_no.as_str(),
            ),
            (
                layout::MARGIN,
                layout::MARGIN + 3.0,
                7.0,
                false,
                footer2.as_str(),
            ),
        ];
        for (x, y, size, bold, text) in chrome {
            emit(
                &mut c,
                &Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    color: GREY,
                    text: text.to_string(),
                },
            );
        }
        for y in [top - 5.0, layout::MARGIN + 25.0] {
            emit(
                &mut c,
                &Op::Line {
                    x1: layout::MARGIN,
                    y1: y,
                    x2: right,
                    y2: y,
                    color: layout::RULE,
                },
            );
        }
        pdf.stream(content_id, &c.finish());
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, layout::PAGE_W, layout::PAGE_H))
            .parent(tree_id)
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), regular_id)
            .pair(Name(b"F2"), bold_id);
    }
    pdf.finish()
}

/// How many pages `render` makes (tests, and the console's file list).
pub fn page_count(report: &ComplianceReport) -> usize {
    lay_out(report, &"0".repeat(64)).pages.len()
}
