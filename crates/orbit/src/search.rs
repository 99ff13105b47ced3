//! Finding when a smooth function of time is positive: coarse samples, then bisection of
//! every sign change and golden-section refinement of every local maximum between samples,
//! so a short excursion that the coarse grid steps over is still found.

use crate::time::Epoch;

/// A closed time interval `[start, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: Epoch,
    pub end: Epoch,
}

/// Bound on refinement steps: 64 halvings reach 1 ns from any i64 span.
const MAX_REFINE_STEPS: usize = 64;

/// The crossing of zero between `a` (where `f` has the sign of `fa_positive`) and `b`,
/// to within `tol_ns`. Returns the first instant on the positive side.
pub fn bisect(
    mut f: impl FnMut(Epoch) -> f64,
    mut a: Epoch,
    mut b: Epoch,
    fa_positive: bool,
    tol_ns: i64,
) -> Epoch {
    for _ in 0..MAX_REFINE_STEPS {
        if b.unix_ns() - a.unix_ns() <= tol_ns {
            break;
        }
        let mid = Epoch::from_unix_ns(a.unix_ns() + (b.unix_ns() - a.unix_ns()) / 2);
        if (f(mid) > 0.0) == fa_positive {
            a = mid;
        } else {
            b = mid;
        }
    }
    if fa_positive { a } else { b }
}

/// The maximum of a unimodal `f` on `[a, b]` by golden-section search, to within `tol_ns`.
pub fn golden_max(
    mut f: impl FnMut(Epoch) -> f64,
    a: Epoch,
    b: Epoch,
    tol_ns: i64,
) -> (Epoch, f64) {
    const INV_PHI: f64 = 0.618_033_988_749_894_8;
    let (mut lo, mut hi) = (a.unix_ns() as f64, b.unix_ns() as f64);
    let at = |x: f64| Epoch::from_unix_ns(x.round() as i64);
    let mut x1 = hi - INV_PHI * (hi - lo);
    let mut x2 = lo + INV_PHI * (hi - lo);
    let (mut f1, mut f2) = (f(at(x1)), f(at(x2)));
    for _ in 0..MAX_REFINE_STEPS * 2 {
        if hi - lo <= tol_ns as f64 {
            break;
        }
        if f1 < f2 {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + INV_PHI * (hi - lo);
            f2 = f(at(x2));
        } else {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - INV_PHI * (hi - lo);
            f1 = f(at(x1));
        }
    }
    let t = at((lo + hi) / 2.0);
    (t, f(t))
}

/// Intervals where `f > 0` within `[times[0], times.last()]`.
///
/// `samples[i] = f(times[i])` on an increasing grid. `f` must be continuous and have at most
/// one local maximum between two adjacent grid points (true for elevation and shadow margins
/// on a grid much finer than an orbit). Intervals running past either end are clipped there.
pub fn positive_intervals(
    times: &[Epoch],
    samples: &[f64],
    mut f: impl FnMut(Epoch) -> f64,
    tol_ns: i64,
) -> Vec<Interval> {
    assert_eq!(times.len(), samples.len(), "one sample per grid time");
    let mut out = Vec::new();
    let Some(&first) = times.first() else {
        return out;
    };
    let mut open: Option<Epoch> = (samples[0] > 0.0).then_some(first);
    for i in 1..times.len() {
        let (t0, t1) = (times[i - 1], times[i]);
        let (f0, f1) = (samples[i - 1], samples[i]);
        match (f0 > 0.0, f1 > 0.0) {
            (false, true) => open = Some(bisect(&mut f, t0, t1, false, tol_ns)),
            (true, false) => {
                let end = bisect(&mut f, t0, t1, true, tol_ns);
                out.push(Interval {
                    start: open.take().expect("an interval is open while f > 0"),
                    end,
                });
            }
            (false, false) => {
                // A local maximum at or around sample i-1 may poke above zero unseen: look when
                // sample i-1 is higher than both neighbours (bracket [i-2, i]).
                if i >= 2 && f0 >= samples[i - 2] && f0 >= f1 {
                    let (ta, tb) = (times[i - 2], t1);
                    let (tmax, fmax) = golden_max(&mut f, ta, tb, tol_ns);
                    if fmax > 0.0 {
                        let start = bisect(&mut f, ta, tmax, false, tol_ns);
                        let end = bisect(&mut f, tmax, tb, true, tol_ns);
                        out.push(Interval { start, end });
                    }
                }
            }
            (true, true) => {}
        }
    }
    if let Some(start) = open {
        out.push(Interval {
            start,
            end: *times.last().expect("grid is not empty"),
        });
    }
    out
}

/// A uniform grid from `start` to `end` inclusive (the last step may be shorter).
pub fn grid(start: Epoch, end: Epoch, step_ns: i64) -> Vec<Epoch> {
    assert!(step_ns > 0, "grid step must be positive");
    let mut times =
        Vec::with_capacity(((end.unix_ns() - start.unix_ns()) / step_ns + 2).max(1) as usize);
    let mut t = start;
    while t < end {
        times.push(t);
        t = t.add_ns(step_ns);
    }
    times.push(end);
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: f64) -> Epoch {
        Epoch::from_unix_s_f64(x)
    }

    #[test]
    fn finds_sign_changes() {
        // f(t) = sin(t / 100 s) - 0.5 > 0 for t in (100 pi/6, 500 pi/6) = (52.36, 261.80) s
        // and again from 100 (2 pi + pi/6) = 680.68 s. Tolerance: the 1 ms bisection target
        // plus float rounding.
        let f = |t: Epoch| (t.unix_ns() as f64 / 1e11).sin() - 0.5;
        let times = grid(s(0.0), s(1_000.0), 30_000_000_000);
        let samples: Vec<f64> = times.iter().map(|t| f(*t)).collect();
        let found = positive_intervals(&times, &samples, f, 1_000_000);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].start.seconds_since(s(52.359_878)).abs() < 0.002);
        assert!(found[0].end.seconds_since(s(261.799_388)).abs() < 0.002);
        assert!(
            found[1].start.seconds_since(s(680.678_408)).abs() < 0.002,
            "{found:?}"
        );
        assert!(
            found[1].end.seconds_since(s(890.117_919)).abs() < 0.002,
            "{found:?}"
        );
    }

    #[test]
    fn finds_a_brief_peak_between_samples() {
        // A wide hump whose top pokes above zero for 20 s only, between two samples of a 60 s
        // grid: positive for |t - 1003 s| < 10 s.
        let f = |t: Epoch| {
            let x = t.unix_ns() as f64 / 1e9;
            (10.0f64 / 300.0).powi(2) - ((x - 1_003.0) / 300.0).powi(2)
        };
        let times = grid(s(0.0), s(2_000.0), 60_000_000_000);
        let samples: Vec<f64> = times.iter().map(|t| f(*t)).collect();
        assert!(
            samples.iter().all(|v| *v <= 0.0),
            "the grid must miss the peak"
        );
        let found = positive_intervals(&times, &samples, f, 1_000_000);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].start.seconds_since(s(993.0)).abs() < 0.002,
            "{found:?}"
        );
        assert!(
            found[0].end.seconds_since(s(1_013.0)).abs() < 0.002,
            "{found:?}"
        );
    }

    #[test]
    fn clips_at_the_ends() {
        let times = grid(s(0.0), s(100.0), 10_000_000_000);
        let samples = vec![1.0; times.len()];
        let found = positive_intervals(&times, &samples, |_| 1.0, 1_000_000);
        assert_eq!(
            found,
            vec![Interval {
                start: s(0.0),
                end: s(100.0)
            }]
        );
    }
}
