//! The shell side of the config file: reading one `KEY=VALUE` line the way bash would, and
//! refusing what bash would read differently (so `source config/partitioning.conf` agrees with us).

/// One line → `Some((key, value))`, `None` for blanks and comments, or `(key, why)` when bash
/// would read the line differently from us (so the file stays sourceable and means one thing).
pub(super) fn split_line(raw: &str) -> Result<Option<(String, String)>, (String, String)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = line
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map_or(line, str::trim_start);
    let Some((key, rest)) = line.split_once('=') else {
        let word = line.split_whitespace().next().unwrap_or(line).to_string();
        return Err((word, "expected KEY=VALUE".into()));
    };
    let valid_key = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_key {
        let msg = "not a shell variable name (no spaces around `=`: bash reads `KEY = VALUE` as a command)";
        return Err((key.trim().to_string(), msg.into()));
    }
    let key = key.to_string();
    if rest.starts_with([' ', '\t']) {
        return Err((
            key,
            "space after `=`: bash would run the value as a command; write KEY=VALUE".into(),
        ));
    }
    let (value, after) = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let body = &rest[1..];
            let Some(end) = body.find(q) else {
                return Err((key, format!("unterminated {q} quote")));
            };
            let value = &body[..end];
            if q == '"' && value.contains(['$', '`', '\\']) {
                return Err((
                    key,
                    "`$`, backquote or backslash inside double quotes: bash would expand it".into(),
                ));
            }
            (value.to_string(), &body[end + 1..])
        }
        _ => {
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            let value = &rest[..end];
            if value.contains([
                '$', '`', '\\', ';', '&', '|', '<', '>', '(', ')', '"', '\'', '*', '?', '[',
            ]) {
                return Err((key, "shell special character in an unquoted value".into()));
            }
            (value.to_string(), &rest[end..])
        }
    };
    // A comment needs a blank before its `#`; `"a"#b` is one word to bash.
    let comment = after.starts_with([' ', '\t']) && after.trim_start().starts_with('#');
    if !after.trim().is_empty() && !comment {
        return Err((
            key,
            "unexpected text after the value (quote values holding spaces)".into(),
        ));
    }
    Ok(Some((key, value)))
}
