//! Personalised PageRank over a weighted directed graph, warm-startable.

/// Ranks nodes `0..n` along `edges` (`from`, `to`, weight). `personalization` (summing to anything
/// positive) is where random jumps land and where dangling nodes' rank goes; uniform when `None`. `warm`
/// is a previous result to start from, so a small change converges in a few iterations.
pub(crate) fn pagerank(
    n: usize,
    edges: &[(u32, u32, f64)],
    personalization: Option<&[f64]>,
    warm: Option<&[f64]>,
) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    const DAMPING: f64 = 0.85;
    const TOLERANCE: f64 = 1e-8;
    const MAX_ITERATIONS: usize = 100;
    let p: Vec<f64> = match personalization {
        Some(p) if p.iter().sum::<f64>() > 0.0 => {
            let total: f64 = p.iter().sum();
            p.iter().map(|x| x / total).collect()
        }
        _ => vec![1.0 / n as f64; n],
    };
    let mut out_weight = vec![0.0; n];
    for &(from, _, w) in edges {
        out_weight[from as usize] += w;
    }
    let mut rank: Vec<f64> = match warm {
        Some(w) if w.len() == n && w.iter().sum::<f64>() > 0.0 => w.to_vec(),
        _ => p.clone(),
    };
    let mut next = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        let dangling: f64 = (0..n).filter(|&i| out_weight[i] == 0.0).map(|i| rank[i]).sum();
        for (i, slot) in next.iter_mut().enumerate() {
            *slot = (1.0 - DAMPING) * p[i] + DAMPING * dangling * p[i];
        }
        for &(from, to, w) in edges {
            let from = from as usize;
            next[to as usize] += DAMPING * rank[from] * w / out_weight[from];
        }
        let diff: f64 = rank.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut rank, &mut next);
        if diff < TOLERANCE * n as f64 {
            break;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_flows_to_what_is_referenced_and_toward_the_focus() {
        // 0 -> 2, 1 -> 2, 2 -> 3: 2 is the most referenced.
        let edges = [(0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0)];
        let r = pagerank(4, &edges, None, None);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        assert!(r[2] > r[0] && r[2] > r[1]);
        let focused = pagerank(4, &edges, Some(&[0.0, 1.0, 0.0, 0.0]), None);
        assert!(focused[1] > r[1], "the focus gets more");
        let warm = pagerank(4, &edges, None, Some(&r));
        assert!(warm.iter().zip(&r).all(|(a, b)| (a - b).abs() < 1e-6), "a warm start converges to the same ranks");
    }
}
