//! Helvetica and Helvetica-Bold (PDF base-14 fonts, never embedded) in WinAnsiEncoding: the
//! advance widths (thousandths of the font size, from Adobe's AFM metrics) the layout measures text
//! with, and the mapping of text to the encoding's bytes. Characters outside it print as `?`.

/// Widths of the bytes 32..=126.
const REGULAR_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 584, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1010, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 222, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
/// Widths of the bytes 160..=255 (WinAnsi equals Latin-1 there).
const REGULAR_LATIN1: [u16; 96] = [
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333,
    333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667,
    1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778,
    722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556,
    278, 278, 278, 278, 556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556,
    500,
];
const BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 584, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 278, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
const BOLD_LATIN1: [u16; 96] = [
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333,
    333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722,
    1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778,
    722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556,
    278, 278, 278, 278, 611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611,
    556,
];

/// The WinAnsi byte for `c`, or `?` when the encoding has none.
pub fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\u{a0}'..='\u{ff}' => c as u32 as u8,
        '\u{2026}' => 0x85,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201c}' => 0x93,
        '\u{201d}' => 0x94,
        '\u{2022}' => 0x95,
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\t' => b' ',
        _ => b'?',
    }
}

pub fn encode(text: &str) -> Vec<u8> {
    text.chars().map(encode_char).collect()
}

/// Width of one encoded byte, in thousandths of the font size.
pub fn byte_width(b: u8, bold: bool) -> u16 {
    match (b, bold) {
        (32..=126, false) => REGULAR_ASCII[usize::from(b - 32)],
        (32..=126, true) => BOLD_ASCII[usize::from(b - 32)],
        (160..=255, false) => REGULAR_LATIN1[usize::from(b - 160)],
        (160..=255, true) => BOLD_LATIN1[usize::from(b - 160)],
        (0x85 | 0x97, _) => 1000,
        (0x91 | 0x92, false) => 222,
        (0x91 | 0x92, true) => 278,
        (0x93 | 0x94, false) => 333,
        (0x93 | 0x94, true) => 500,
        (0x95, _) => 350,
        (0x96, _) => 556,
        _ => 556,
    }
}

/// Width of `text` at `size` points.
pub fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let thousandths: u32 = text
        .chars()
        .map(|c| u32::from(byte_width(encode_char(c), bold)))
        .sum();
    thousandths as f32 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_encoding() {
        // Adobe's AFM: space 278, 'W' 944 (regular) / 944 (bold), 'i' 222 / 278.
        assert_eq!(byte_width(b' ', false), 278);
        assert_eq!(byte_width(b'i', false), 222);
        assert_eq!(byte_width(b'i', true), 278);
        assert_eq!(encode("a\u{2014}é€"), vec![b'a', 0x97, 0xe9, b'?']);
        assert!((text_width("Page", 10.0, false) - 23.35).abs() < 0.01);
    }
}
