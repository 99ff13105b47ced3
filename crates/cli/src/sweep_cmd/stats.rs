//! The statistics of a sweep, pure functions of its table: each policy's mean of every
//! numeric figure over the seeds with a 95 % confidence interval (Student t with n − 1
//! degrees of freedom), and the paired difference to the first policy (per seed, this
//! policy's figure less the first policy's, then the mean and interval of those
//! differences), as `stats.csv` and as the printed table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use statrs::distribution::{ContinuousCDF, StudentsT};
use tiandi_report::sweep::{Cell, LEADING, Table};

use super::SweepFile;

/// The figures printed (those the table has), before each kind's `deadline_met_ratio`.
const PRINTED: [&str; 9] = [
    "deadline_met_ratio",
    "completed",
    "dropped",
    "latency_p50_s",
    "latency_p95_s",
    "energy_used_wh",
    "energy.total_wh",
    "energy.ground_wh",
    "downlink_bytes",
];

/// Columns of `stats.csv`.
pub const CSV_HEADER: &str =
    "policy,metric,n,mean,ci95_low,ci95_high,diff_mean,diff_ci95_low,diff_ci95_high";

/// The mean of `n` values and its 95 % confidence interval (none for one value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub ci95: Option<(f64, f64)>,
}

impl Estimate {
    /// Whether the interval lies wholly on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.ci95.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0)
    }
}

/// One policy's figure over the seeds, and its paired difference to the first policy
/// (none for the first policy itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Stat {
    pub policy: String,
    pub metric: String,
    pub value: Option<Estimate>,
    pub diff: Option<Estimate>,
}

/// The 0.975 quantile of Student's t distribution with `dof` degrees of freedom: the
/// half-width of a 95 % interval in standard errors.
pub fn t_975(dof: u64) -> f64 {
    assert!(dof >= 1, "t needs at least one degree of freedom");
    StudentsT::new(0.0, 1.0, dof as f64)
        .expect("location 0, scale 1 and dof >= 1 are valid")
        .inverse_cdf(0.975)
}

/// The mean of `xs` and its 95 % confidence interval, mean ± t(0.975, n − 1) · s / √n with
/// s the sample standard deviation; `None` for no values.
pub fn estimate(xs: &[f64]) -> Option<Estimate> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    // Summed in the order given (seeds ascending): the same values give the same bits.
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ci95 = (n > 1).then(|| {
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_975(n as u64 - 1) * (var / n as f64).sqrt();
        (mean - half, mean + half)
    });
    Some(Estimate { n, mean, ci95 })
}

/// The columns to compare: every column after the leading ones whose values are all
/// numbers (and that has one).
fn metrics(table: &Table) -> Vec<usize> {
    (LEADING.len()..table.columns.len())
        .filter(|&c| {
            let mut any = false;
            table.rows.iter().all(|r| match &r[c] {
                Cell::Null => true,
                cell => {
                    any = true;
                    cell.number().is_some()
                }
            }) && any
        })
        .collect()
}

/// The statistics of every numeric figure of `table`, policy by policy (in the order of
/// `policies`), figure by figure (in column order).
pub fn compare(table: &Table, policies: &[String]) -> Vec<Stat> {
    let col = |name: &str| table.column(name).expect("a table has its leading columns");
    let (policy_col, seed_col) = (col("policy"), col("seed"));
    let mut row_of: BTreeMap<(u64, usize), usize> = BTreeMap::new();
    let mut seeds = BTreeSet::new();
    for (i, row) in table.rows.iter().enumerate() {
        let (Cell::Text(p), Cell::UInt(seed)) = (&row[policy_col], &row[seed_col]) else {
            continue;
        };
        if let Some(p) = policies.iter().position(|q| q == p) {
            row_of.insert((*seed, p), i);
            seeds.insert(*seed);
        }
    }
    let value = |seed: u64, p: usize, c: usize| {
        row_of
            .get(&(seed, p))
            .and_then(|&r| table.rows[r][c].number())
    };
    let metrics = metrics(table);
    let mut out = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        for &c in &metrics {
            let xs: Vec<f64> = seeds.iter().filter_map(|&s| value(s, p, c)).collect();
            let diffs: Vec<f64> = seeds
                .iter()
                .filter_map(|&s| Some(value(s, p, c)? - value(s, 0, c)?))
                .collect();
            out.push(Stat {
                policy: policy.clone(),
                metric: table.columns[c].clone(),
                value: estimate(&xs),
                diff: if p == 0 { None } else { estimate(&diffs) },
            });
        }
    }
    out
}

/// A float cell of `stats.csv`: shortest round trip, as in runs.csv.
fn float(x: f64) -> String {
    format!("{x:?}")
}

/// `stats.csv`.
pub fn csv(stats: &[Stat]) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    let parts = |e: Option<Estimate>| -> [String; 3] {
        match e {
            None => Default::default(),
            Some(e) => [
                float(e.mean),
                e.ci95.map(|c| float(c.0)).unwrap_or_default(),
                e.ci95.map(|c| float(c.1)).unwrap_or_default(),
            ],
        }
    };
    for st in stats {
        let [mean, lo, hi] = parts(st.value);
        let [d_mean, d_lo, d_hi] = parts(st.diff);
        let n = st.value.map_or(0, |e| e.n);
        // Policy names and column names have no comma or quote; a future one would.
        let quote = |t: &str| {
            if t.contains([',', '"', '\n']) {
                format!("\"{}\"", t.replace('"', "\"\""))
            } else {
                t.to_string()
            }
        };
        writeln!(
            s,
            "{},{},{n},{mean},{lo},{hi},{d_mean},{d_lo},{d_hi}",
            quote(&st.policy),
            quote(&st.metric)
        )
        .expect("writing to a string");
    }
    s
}

/// Four significant digits (scientific outside 0.001 .. 10^7).
fn sig(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e7).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

fn signed(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", sig(x))
    } else {
        sig(x)
    }
}

fn interval(e: &Estimate, f: fn(f64) -> String, n_seeds: usize) -> String {
    let mut s = match e.ci95 {
        Some((lo, hi)) => format!("{} [{}, {}]", f(e.mean), f(lo), f(hi)),
        None => format!("{} [-]", f(e.mean)),
    };
    if e.n != n_seeds {
        write!(s, " (n={})", e.n).expect("writing to a string");
    }
    s
}

/// The printed table: the main figures (those the table has) and each kind's
/// `deadline_met_ratio`, one line per policy.
pub fn table(stats: &[Stat], file: &SweepFile) -> String {
    let n_seeds = file.seeds.count() as usize;
    let first = &file.policies[0];
    let mut shown: Vec<&str> = PRINTED
        .iter()
        .copied()
        .filter(|m| stats.iter().any(|s| s.metric == *m))
        .collect();
    for s in stats.iter().filter(|s| s.policy == *first) {
        if s.metric.ends_with(".deadline_met_ratio") && !shown.contains(&s.metric.as_str()) {
            shown.push(&s.metric);
        }
    }
    let mut lines: Vec<[String; 4]> = vec![[
        "metric".into(),
        "policy".into(),
        "mean [95% CI]".into(),
        format!("paired diff to {first} [95% CI]"),
    ]];
    for metric in shown {
        for (i, s) in stats.iter().filter(|s| s.metric == metric).enumerate() {
            let value = s.value.map_or("-".into(), |e| interval(&e, sig, n_seeds));
            let diff = s.diff.map_or(String::new(), |e| {
                let mark = if e.excludes_zero() { " *" } else { "" };
                format!("{}{mark}", interval(&e, signed, n_seeds))
            });
            let label = if i == 0 {
                metric.to_string()
            } else {
                String::new()
            };
            lines.push([label, s.policy.clone(), value, diff]);
        }
    }
    let width = |i: usize| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = format!(
        "sweep of {} ({}): {} seeds {}, {} h; mean and 95% CI over the seeds (Student t, \
         n-1 dof); paired diff: per seed, policy minus {first}; * where its CI excludes 0\n",
        file.scenario, file.scenario_hash, n_seeds, file.seeds, file.horizon_h
    );
    for l in lines {
        let line = format!("{:w0$}  {:w1$}  {:w2$}  {}", l[0], l[1], l[2], l[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiandi_report::sweep::parse_line;

    /// Relative tolerance of the quantiles: the reference values are rounded to 7
    /// significant digits (a relative error of at most 5e-7).
    const T_TOL: f64 = 1e-6;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Reference: SciPy 1.17.1, `python3 -c "from scipy.stats import t;
        // print(t.ppf(0.975, dof))"`, rounded to 7 digits; they agree with the 3-decimal
        // table of the NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2.
        for (dof, t) in [
            (1, 12.706_20),
            (4, 2.776_445),
            (19, 2.093_024),
            (29, 2.045_230),
            (100, 1.983_972),
        ] {
            let got = t_975(dof);
            assert!((got - t).abs() < T_TOL * t, "dof {dof}: {got}");
        }
        assert!((t_975(19) - 2.093).abs() < 5e-4);
    }

    #[test]
    fn an_interval_computed_by_hand() {
        // 1..5: mean 3, s = sqrt(2.5), se = s / sqrt(5) = 0.7071068, t(0.975, 4) = 2.776445:
        // half-width 1.963243.
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(e.n, 5);
        assert_eq!(e.mean, 3.0);
        let (lo, hi) = e.ci95.unwrap();
        assert!((lo - 1.036_757).abs() < 1e-6, "{lo}");
        assert!((hi - 4.963_243).abs() < 1e-6, "{hi}");
        assert!(e.excludes_zero());
        assert_eq!(estimate(&[]), None);
        let one = estimate(&[7.0]).unwrap();
        assert_eq!((one.mean, one.ci95), (7.0, None));
        assert!(!one.excludes_zero());
        let around_zero = estimate(&[-1.0, 1.0]).unwrap();
        assert!(!around_zero.excludes_zero());
    }

    fn row(policy: &str, seed: u64, completed: u64, ratio: Option<f64>) -> String {
        let ratio = ratio.map_or("null".into(), |r| format!("{r:?}"));
        format!(
            r#"{{"policy":"{policy}","scenario_hash":"h","seed":{seed},"completed":{completed},"deadline_met_ratio":{ratio},"note":"x","by_kind":[{{"kind":"eo","deadline_met_ratio":{ratio}}}]}}"#
        )
    }

    #[test]
    fn paired_differences_are_per_seed() {
        let lines = [
            row("a", 1, 10, Some(0.5)),
            row("b", 1, 13, Some(0.75)),
            row("a", 2, 20, Some(0.25)),
            row("b", 2, 22, None),
            row("a", 3, 30, Some(0.5)),
            row("b", 3, 34, Some(1.0)),
        ];
        let rows: Vec<_> = lines.iter().map(|l| parse_line(l).unwrap()).collect();
        let t = Table::of(&rows);
        let policies = ["a".to_string(), "b".to_string()];
        let stats = compare(&t, &policies);
        let metrics: Vec<&str> = stats
            .iter()
            .filter(|s| s.policy == "a")
            .map(|s| s.metric.as_str())
            .collect();
        // Text columns are not compared.
        assert_eq!(
            metrics,
            ["completed", "deadline_met_ratio", "eo.deadline_met_ratio"]
        );
        let get = |p: &str, m: &str| {
            stats
                .iter()
                .find(|s| s.policy == p && s.metric == m)
                .unwrap()
        };
        let a = get("a", "completed");
        assert_eq!(a.value.unwrap().mean, 20.0);
        assert_eq!(a.diff, None);
        // Differences 3, 2, 4: mean 3, s = 1, half-width t(0.975, 2) / sqrt(3) = 2.484138.
        let b = get("b", "completed").diff.unwrap();
        assert_eq!((b.n, b.mean), (3, 3.0));
        let (lo, hi) = b.ci95.unwrap();
        assert!((hi - 3.0 - 4.302_653 / 3f64.sqrt()).abs() < 1e-5, "{hi}");
        assert!((3.0 - lo - 4.302_653 / 3f64.sqrt()).abs() < 1e-5, "{lo}");
        assert!(b.excludes_zero());
        // Seed 2 of b has no ratio: two values, two pairs (0.25 and 0.5).
        let r = get("b", "deadline_met_ratio");
        assert_eq!(r.value.unwrap().n, 2);
        assert_eq!(r.diff.unwrap().mean, 0.375);
        let text = csv(&stats);
        assert!(text.starts_with(&format!("{CSV_HEADER}\na,completed,3,20.0,")));
        assert!(text.contains("\nb,deadline_met_ratio,2,0.875,"));
    }

    #[test]
    fn numbers_are_printed_to_four_significant_digits() {
        assert_eq!(sig(0.523_149), "0.5231");
        assert_eq!(sig(1234.56), "1235");
        assert_eq!(sig(12.0), "12.00");
        assert_eq!(sig(5.3e12), "5.300e12");
        assert_eq!(signed(0.25), "+0.2500");
        assert_eq!(signed(-3.0), "-3.000");
    }
}
