//! A small page layout engine for the report: headings, wrapped paragraphs and tables that break
//! across pages with their header row (and title) repeated. It only places things; `pdf.rs` turns
//! the placed pages into PDF content streams once the page count is known ("Page i of n").

use super::metrics::text_width;

/// US Letter, landscape (points).
pub const PAGE_W: f32 = 792.0;
pub const PAGE_H: f32 = 612.0;
pub const MARGIN: f32 = 36.0;
/// Where content starts (below the running header) and must stop (above the footer).
pub const TOP: f32 = PAGE_H - MARGIN - 22.0;
pub const BOTTOM: f32 = MARGIN + 34.0;
pub const WIDTH: f32 = PAGE_W - 2.0 * MARGIN;
/// What [`Layout::heading`] takes: gap above, 13 pt line, space below.
pub const HEADING_H: f32 = 28.0;
/// Table text size and line spacing.
const TABLE_SIZE: f32 = 7.5;
const TABLE_LEADING: f32 = TABLE_SIZE * 1.25;
/// A table's header row, and its "(none)" line when it has no rows.
const TABLE_HEAD_H: f32 = TABLE_SIZE * 1.3 + 6.0;
const TABLE_NONE_H: f32 = 14.0;

pub type Rgb = (f32, f32, f32);
pub const BLACK: Rgb = (0.0, 0.0, 0.0);
pub const GREY: Rgb = (0.35, 0.35, 0.35);
pub const RULE: Rgb = (0.75, 0.75, 0.75);
pub const HEAD_FILL: Rgb = (0.88, 0.90, 0.93);
pub const BAD_FILL: Rgb = (1.0, 0.89, 0.87);
pub const NOTE_FILL: Rgb = (1.0, 0.97, 0.85);
pub const GOOD_FILL: Rgb = (0.89, 0.96, 0.89);
pub const BAD_TEXT: Rgb = (0.65, 0.05, 0.05);
pub const GOOD_TEXT: Rgb = (0.05, 0.45, 0.1);

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: Rgb,
        text: String,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        color: Rgb,
    },
}

/// A table column: header, share of the width, right-aligned (numbers) or not.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub width: f32,
    pub right: bool,
}

pub const fn col(header: &'static str, width: f32) -> Column {
    Column {
        header,
        width,
        right: false,
    }
}

pub const fn num(header: &'static str, width: f32) -> Column {
    Column {
        header,
        width,
        right: true,
    }
}

/// A table row: cells, an optional background, an optional colour for one cell (the status word).
pub struct TableRow {
    pub cells: Vec<String>,
    pub fill: Option<Rgb>,
    pub emphasis: Option<(usize, Rgb)>,
}

pub struct Layout {
    pub pages: Vec<Vec<Op>>,
    y: f32,
}

/// Splits `text` into lines no wider than `width`: at spaces when it can, inside a word when a
/// word alone is too wide (hashes, long names).
pub fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size, bold) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if text_width(&next, size, bold) > width && !line.is_empty() {
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page unless `height` more points fit on this one. On a page that is still
    /// empty a break cannot help (the thing is taller than a page), so none is made.
    pub fn need(&mut self, height: f32) {
        if self.y - height < BOTTOM && self.y < TOP {
            self.new_page();
        }
    }

    /// Lays out `place` on this page if all of it fits, or else whole at the top of the next one
    /// (the attestation: a signature line must never sit on a page apart from what it signs). It
    /// is measured by laying it out on a scratch copy, so it cannot drift from what is drawn; a
    /// block taller than a page flows from the top of a new page.
    pub fn keep_together(&mut self, place: impl Fn(&mut Layout)) {
        let mut trial = Layout {
            pages: vec![Vec::new()],
            y: self.y,
        };
        place(&mut trial);
        if trial.pages.len() == 1 {
            let ops = trial.pages.pop().unwrap_or_default();
            self.ops().extend(ops);
            self.y = trial.y;
        } else {
            if self.y < TOP {
                self.new_page();
            }
            place(self);
        }
    }

    pub fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, color: Rgb, text: &str) {
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            color,
            text: text.to_string(),
        });
    }

    pub fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    /// A section title, kept on one page with the first `keep_with_next` points of what follows
    /// (a table's header and first row: see [`Layout::table_lead`]), so a title never ends a page.
    pub fn heading(&mut self, text: &str, keep_with_next: f32) {
        self.need(HEADING_H + keep_with_next);
        self.gap(8.0);
        let y = self.y - 13.0;
        self.text(MARGIN, y, 13.0, true, BLACK, text);
        self.y = y - 7.0;
    }

    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool, color: Rgb) {
        let leading = size * 1.3;
        for line in wrap(text, size, bold, WIDTH) {
            self.need(leading);
            let y = self.y - size;
            self.text(MARGIN, y, size, bold, color, &line);
            self.y -= leading;
        }
        self.gap(3.0);
    }

    /// Label/value lines (the scope block).
    pub fn pairs(&mut self, pairs: &[(&str, String)]) {
        let size = 9.0;
        let label_w = 120.0;
        for (label, value) in pairs {
            let lines = wrap(value, size, false, WIDTH - label_w);
            self.need(size * 1.35 * lines.len() as f32);
            self.text(MARGIN, self.y - size, size, true, BLACK, label);
            for line in lines {
                let y = self.y - size;
                self.text(MARGIN + label_w, y, size, false, BLACK, &line);
                self.y -= size * 1.35;
            }
        }
        self.gap(4.0);
    }

    fn table_header(&mut self, title: &str, columns: &[Column], size: f32, continued: bool) {
        if continued {
            let y = self.y - 9.0;
            self.text(MARGIN, y, 9.0, true, GREY, &format!("{title} (continued)"));
            self.y = y - 5.0;
        }
        let h = TABLE_HEAD_H;
        let y = self.y - h;
        self.ops().push(Op::Fill {
            x: MARGIN,
            y,
            w: WIDTH,
            h,
            color: HEAD_FILL,
        });
        let mut x = MARGIN;
        for c in columns {
            let w = c.width * WIDTH;
            let tx = if c.right {
                x + w - 3.0 - text_width(c.header, size, true)
            } else {
                x + 3.0
            };
            self.text(tx, self.y - 3.0 - size, size, true, BLACK, c.header);
            x += w;
        }
        self.y -= h;
    }

    /// The height of a table's header row plus its first row (or its "(none)" line): what must
    /// fit on a page for the table to start there, so a header never sits alone at a page's foot.
    pub fn table_lead(columns: &[Column], rows: &[TableRow]) -> f32 {
        TABLE_HEAD_H
            + rows
                .first()
                .map_or(TABLE_NONE_H, |row| row_height(&wrap_row(columns, row)))
    }

    /// A table whose rows wrap inside their cells and which continues on the next page with the
    /// header row repeated. `title` names it on continuation pages.
    pub fn table(&mut self, title: &str, columns: &[Column], rows: &[TableRow]) {
        let size = TABLE_SIZE;
        let leading = TABLE_LEADING;
        self.need(Layout::table_lead(columns, rows));
        self.table_header(title, columns, size, false);
        for row in rows {
            let wrapped = wrap_row(columns, row);
            let h = row_height(&wrapped);
            if self.y - h < BOTTOM {
                self.new_page();
                self.table_header(title, columns, size, true);
            }
            let top = self.y;
            if let Some(color) = row.fill {
                self.ops().push(Op::Fill {
                    x: MARGIN,
                    y: top - h,
                    w: WIDTH,
                    h,
                    color,
                });
            }
            let mut x = MARGIN;
            for (i, (c, cell_lines)) in columns.iter().zip(&wrapped).enumerate() {
                let w = c.width * WIDTH;
                let color = match row.emphasis {
                    Some((col, color)) if col == i => color,
                    _ => BLACK,
                };
                let bold = matches!(row.emphasis, Some((col, _)) if col == i);
                for (n, line) in cell_lines.iter().enumerate() {
                    let tx = if c.right {
                        x + w - 3.0 - text_width(line, size, bold)
                    } else {
                        x + 3.0
                    };
                    let ty = top - 2.0 - size - n as f32 * leading;
                    self.text(tx, ty, size, bold, color, line);
                }
                x += w;
            }
            self.y = top - h;
            let y = self.y;
            self.ops().push(Op::Line {
                x1: MARGIN,
                y1: y,
                x2: MARGIN + WIDTH,
                y2: y,
                color: RULE,
            });
        }
        if rows.is_empty() {
            self.text(MARGIN + 3.0, self.y - 10.0, 8.0, false, GREY, "(none)");
            self.y -= TABLE_NONE_H;
        }
        self.gap(6.0);
    }
}

/// Each cell of `row` wrapped to its column (the emphasised cell is drawn bold, so measured so).
fn wrap_row(columns: &[Column], row: &TableRow) -> Vec<Vec<String>> {
    columns
        .iter()
        .zip(&row.cells)
        .enumerate()
        .map(|(i, (c, text))| {
            let bold = matches!(row.emphasis, Some((col, _)) if col == i);
            wrap(text, TABLE_SIZE, bold, c.width * WIDTH - 6.0)
        })
        .collect()
}

fn row_height(wrapped: &[Vec<String>]) -> f32 {
    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
    lines as f32 * TABLE_LEADING + 4.0
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}
