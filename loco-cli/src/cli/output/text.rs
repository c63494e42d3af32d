//! Text for people: table cells with control characters escaped, and aligned columns.

/// A value safe for one table cell: control characters (newlines, tabs, escapes) are shown
/// escaped so user text cannot break the layout or drive the terminal.
pub(super) fn cell(value: &str) -> String {
    value.chars().fold(String::with_capacity(value.len()), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

/// Left-aligned columns separated by two spaces.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, value) in widths.iter_mut().zip(row) {
            *w = (*w).max(value.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, value) in cells.enumerate() {
            if i + 1 == widths.len() {
                l.push_str(value);
            } else {
                let pad = widths[i].saturating_sub(value.chars().count());
                l.push_str(value);
                l.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()], vec!["é".into(), "22".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\né    22\n");
    }

    #[test]
    fn control_characters_are_escaped_in_cells() {
        assert_eq!(cell("a\nb\t\u{1b}[31m"), "a\\nb\\t\\u{1b}[31m");
        assert_eq!(cell("支付 🚀"), "支付 🚀");
    }
}
