//! Column alignment with the semantics of Go's `text/tabwriter` as runtime/pprof configures it
//! (minwidth 1, tabwidth 8, padding 1, padchar `'\t'`), so our legacy text matches Go's byte for
//! byte.
//!
//! Cells are tab-terminated; the text after a line's last tab is not part of any column. A column
//! block is a run of consecutive lines that all have a tab-terminated cell in that column; each
//! block gets its own width, and blocks nest from left to right.

const MIN_WIDTH: usize = 1;
const TAB_WIDTH: usize = 8;
const PADDING: usize = 1;

/// Aligns `text` (which should end in a newline) and returns the result.
pub(crate) fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text
        .split_terminator('\n')
        .map(|l| l.split('\t').collect())
        .collect();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A block of lines with a cell in `column` starts here.
        write_lines(&lines[line0..this], widths, out);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(cell_width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(width);
        format(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(&lines[line0..line1], widths, out);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], out: &mut String) {
    for cells in lines {
        for (j, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < cells.len() && j < widths.len() {
                // Pad with tabs to the column width rounded up to a tab stop.
                let cell_w = widths[j].div_ceil(TAB_WIDTH) * TAB_WIDTH;
                let n = cell_w - cell_width(cell);
                for _ in 0..n.div_ceil(TAB_WIDTH) {
                    out.push('\t');
                }
            }
        }
        out.push('\n');
    }
}

fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn matches_go_record_layout() {
        // Observed from Go 1.27's mutex profile (debug=1): the shorter function name gets two tabs.
        let input = "1 2 @ 0x1\n#\t0x4df1c0\tsync.(*Mutex).Unlock+0x40\t/src/sync/mutex.go:65\n#\t0x4df1bf\tmain.holder+0x3f\texample/mtx/main.go:18\n\n";
        let want = "1 2 @ 0x1\n#\t0x4df1c0\tsync.(*Mutex).Unlock+0x40\t/src/sync/mutex.go:65\n#\t0x4df1bf\tmain.holder+0x3f\t\texample/mtx/main.go:18\n\n";
        assert_eq!(align(input), want);
    }

    #[test]
    fn blocks_are_aligned_independently() {
        let input = "#\ta\tx\n\n#\tlonger-than-eight\ty\n";
        let want = "#\ta\tx\n\n#\tlonger-than-eight\ty\n";
        assert_eq!(align(input), want);
        let input = "#\ta\tx\n#\tlonger-than-eight\ty\n";
        let want = "#\ta\t\t\tx\n#\tlonger-than-eight\ty\n";
        assert_eq!(align(input), want);
    }

    #[test]
    fn lines_without_tabs_pass_through() {
        assert_eq!(
            align("--- mutex:\ncycles/second=1\n"),
            "--- mutex:\ncycles/second=1\n"
        );
    }
}
