//! Small-cell suppression of aggregate tables.
//!
//! A cell that counts fewer than `k` distinct persons is suppressed (primary). Every total over
//! one dimension of a table can be asked for separately (a coarser `groupBy`), so a line of cells
//! that differ in one dimension only must never hold exactly one suppressed cell: the total minus
//! the others would give it away. Where one does, the smallest other cell of that line is
//! suppressed too (complementary), until no line has exactly one.

use std::collections::HashMap;

/// One cell for the suppression: its key (one value per grouped dimension) and its count of
/// distinct persons.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// One value per grouped dimension, in the table's dimension order.
    pub key: Vec<String>,
    /// Distinct persons the cell counts.
    pub persons: usize,
}

/// Which cells to suppress: primary (fewer than `k` persons) and complementary.
pub fn suppress(cells: &[Cell], k: usize) -> Vec<bool> {
    let mut hidden: Vec<bool> = cells.iter().map(|c| c.persons < k).collect();
    let dims = cells.first().map_or(0, |c| c.key.len());
    loop {
        let mut changed = false;
        // A line for dimension d: the cells whose keys agree on every dimension but d. With no
        // dimensions the single cell is the published total itself.
        for d in 0..dims {
            let mut lines: HashMap<Vec<&str>, Vec<usize>> = HashMap::new();
            for (i, c) in cells.iter().enumerate() {
                let rest: Vec<&str> = c
                    .key
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != d)
                    .map(|(_, v)| v.as_str())
                    .collect();
                lines.entry(rest).or_default().push(i);
            }
            let mut lines: Vec<Vec<usize>> = lines.into_values().collect();
            // Deterministic: the same table always suppresses the same cells.
            lines.sort();
            for line in lines {
                let suppressed = line.iter().filter(|i| hidden[**i]).count();
                if suppressed != 1 {
                    continue;
                }
                let partner = line.iter().copied().filter(|i| !hidden[*i]).min_by(|a, b| {
                    cells[*a]
                        .persons
                        .cmp(&cells[*b].persons)
                        .then(cells[*a].key.cmp(&cells[*b].key))
                });
                if let Some(p) = partner {
                    hidden[p] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return hidden;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(key: &[&str], persons: usize) -> Cell {
        Cell {
            key: key.iter().map(|s| s.to_string()).collect(),
            persons,
        }
    }

    #[test]
    fn a_lone_small_cell_takes_the_smallest_neighbour_with_it() {
        let cells = vec![cell(&["a"], 3), cell(&["b"], 40), cell(&["c"], 12)];
        assert_eq!(suppress(&cells, 10), vec![true, false, true]);
    }

    #[test]
    fn two_small_cells_protect_each_other() {
        let cells = vec![cell(&["a"], 3), cell(&["b"], 4), cell(&["c"], 12)];
        assert_eq!(suppress(&cells, 10), vec![true, true, false]);
    }

    #[test]
    fn rows_and_columns_of_a_two_way_table_never_hold_one_suppressed_cell() {
        // months × lines
        let cells = vec![
            cell(&["jan", "3"], 30),
            cell(&["jan", "4"], 2),
            cell(&["feb", "3"], 25),
            cell(&["feb", "4"], 18),
            cell(&["mar", "3"], 40),
            cell(&["mar", "4"], 22),
        ];
        let hidden = suppress(&cells, 10);
        for d in 0..2 {
            let mut lines: HashMap<String, usize> = HashMap::new();
            for (c, h) in cells.iter().zip(&hidden) {
                if *h {
                    *lines.entry(c.key[1 - d].clone()).or_default() += 1;
                }
            }
            assert!(lines.values().all(|n| *n != 1), "{d}: {lines:?} {hidden:?}");
        }
        assert!(hidden[1]);
    }

    #[test]
    fn a_single_small_total_is_suppressed() {
        assert_eq!(
            suppress(
                &[Cell {
                    key: vec![],
                    persons: 4
                }],
                10
            ),
            vec![true]
        );
        assert_eq!(
            suppress(
                &[Cell {
                    key: vec![],
                    persons: 40
                }],
                10
            ),
            vec![false]
        );
    }
}
