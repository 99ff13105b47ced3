//! Min-cost assignment of rows (waiting stages) to columns (nodes with free slots) by
//! successive shortest paths on a small flow network, for the global mode of
//! [`crate::Unified`].
//!
//! Network: source -> row (capacity 1), row -> column (1, the arc's cost), row -> stay (1,
//! the row's cost of staying), column -> sink (the column's capacity), stay -> sink
//! (unbounded). Every row is assigned (staying is always possible), so the flow is the
//! row count and the answer is its cheapest assignment. Shortest paths by Bellman-Ford
//! with a queue (SPFA), since residual arcs carry negative costs. Sizes are small (tens of
//! rows, a few hundred arcs): each augmentation is O(V E) at worst.

use std::collections::VecDeque;

/// Which column each row takes (`None`: it stays), and the total cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub rows: Vec<Option<usize>>,
    pub cost: i64,
}

struct Edge {
    to: usize,
    cap: u32,
    cost: i64,
}

/// The cheapest assignment: row `r` may take column `c` at cost `arcs[r]` lists as
/// `(c, cost)`, or stay at `stay[r]`; column `c` takes at most `capacity[c]` rows.
/// Ties go to the lower-numbered choice found first (deterministic).
pub fn min_cost_assignment(
    arcs: &[Vec<(usize, i64)>],
    stay: &[i64],
    capacity: &[u32],
) -> Assignment {
    let n_rows = arcs.len();
    assert_eq!(stay.len(), n_rows, "one stay cost per row");
    let n_cols = capacity.len();
    let source = 0;
    let row = |r: usize| 1 + r;
    let col = |c: usize| 1 + n_rows + c;
    let stay_node = 1 + n_rows + n_cols;
    let sink = stay_node + 1;
    let n = sink + 1;
    let mut edges: Vec<Edge> = Vec::new();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut add = |edges: &mut Vec<Edge>, a: usize, b: usize, cap: u32, cost: i64| {
        adj[a].push(edges.len());
        edges.push(Edge { to: b, cap, cost });
        adj[b].push(edges.len());
        edges.push(Edge {
            to: a,
            cap: 0,
            cost: -cost,
        });
    };
    for r in 0..n_rows {
        add(&mut edges, source, row(r), 1, 0);
        add(&mut edges, row(r), stay_node, 1, stay[r]);
        for &(c, cost) in &arcs[r] {
            assert!(c < n_cols, "arc to column {c} of {n_cols}");
            add(&mut edges, row(r), col(c), 1, cost);
        }
    }
    for (c, &cap) in capacity.iter().enumerate() {
        if cap > 0 {
            add(&mut edges, col(c), sink, cap, 0);
        }
    }
    add(&mut edges, stay_node, sink, n_rows as u32, 0);

    let mut total = 0i64;
    let mut dist = vec![i64::MAX; n];
    let mut via = vec![usize::MAX; n];
    let mut queued = vec![false; n];
    for _ in 0..n_rows {
        dist.fill(i64::MAX);
        via.fill(usize::MAX);
        dist[source] = 0;
        let mut queue = VecDeque::from([source]);
        queued[source] = true;
        while let Some(v) = queue.pop_front() {
            queued[v] = false;
            for &e in &adj[v] {
                let Edge { to, cap, cost } = edges[e];
                if cap > 0 && dist[v] + cost < dist[to] {
                    dist[to] = dist[v] + cost;
                    via[to] = e;
                    if !queued[to] {
                        queued[to] = true;
                        queue.push_back(to);
                    }
                }
            }
        }
        if dist[sink] == i64::MAX {
            break; // cannot happen: staying is always open
        }
        let mut v = sink;
        while v != source {
            let e = via[v];
            edges[e].cap -= 1;
            edges[e ^ 1].cap += 1;
            v = edges[e ^ 1].to;
        }
        total += dist[sink];
    }
    // A row's choice is the column arc that carries its unit of flow.
    let rows = (0..n_rows)
        .map(|r| {
            adj[row(r)].iter().find_map(|&e| {
                let Edge { to, cap, .. } = edges[e];
                (e % 2 == 0 && cap == 0 && (col(0)..stay_node).contains(&to)).then(|| to - col(0))
            })
        })
        .collect();
    Assignment { rows, cost: total }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every assignment by enumeration: the cheapest total.
    fn brute(arcs: &[Vec<(usize, i64)>], stay: &[i64], capacity: &[u32]) -> i64 {
        fn go(r: usize, arcs: &[Vec<(usize, i64)>], stay: &[i64], left: &mut Vec<u32>) -> i64 {
            if r == arcs.len() {
                return 0;
            }
            let mut best = stay[r] + go(r + 1, arcs, stay, left);
            for &(c, cost) in &arcs[r] {
                if left[c] > 0 {
                    left[c] -= 1;
                    best = best.min(cost + go(r + 1, arcs, stay, left));
                    left[c] += 1;
                }
            }
            best
        }
        go(0, arcs, stay, &mut capacity.to_vec())
    }

    #[test]
    fn matches_enumeration_on_small_instances() {
        // A fixed linear congruential sequence: no dependence on a random crate.
        let mut x: u64 = 12345;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        for _ in 0..300 {
            let n_rows = 1 + next(5) as usize;
            let n_cols = 1 + next(4) as usize;
            let capacity: Vec<u32> = (0..n_cols).map(|_| next(3) as u32).collect();
            let stay: Vec<i64> = (0..n_rows).map(|_| next(100) as i64).collect();
            let mut arcs: Vec<Vec<(usize, i64)>> = vec![Vec::new(); n_rows];
            for row in &mut arcs {
                for c in 0..n_cols {
                    if next(3) > 0 {
                        row.push((c, next(120) as i64));
                    }
                }
            }
            let a = min_cost_assignment(&arcs, &stay, &capacity);
            assert_eq!(
                a.cost,
                brute(&arcs, &stay, &capacity),
                "{arcs:?} {stay:?} {capacity:?}"
            );
            // The reported choices cost what the total says and respect capacities.
            let mut used = vec![0u32; n_cols];
            let mut sum = 0;
            for (r, c) in a.rows.iter().enumerate() {
                match c {
                    Some(c) => {
                        used[*c] += 1;
                        sum += arcs[r].iter().find(|(k, _)| k == c).unwrap().1;
                    }
                    None => sum += stay[r],
                }
            }
            assert_eq!(sum, a.cost);
            assert!(used.iter().zip(&capacity).all(|(u, c)| u <= c));
        }
    }

    #[test]
    fn a_contended_slot_goes_to_the_row_that_gains_most() {
        // Two rows want the one free slot; row 1 loses more by staying.
        let arcs = vec![vec![(0, 10)], vec![(0, 10)]];
        let a = min_cost_assignment(&arcs, &[50, 500], &[1]);
        assert_eq!(a.rows, vec![None, Some(0)]);
        assert_eq!(a.cost, 60);
    }
}
