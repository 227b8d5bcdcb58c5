//! The statistics a circular buffer computes over a column: `compute`'s functions and the
//! Mann-Whitney U test. NaN cells are missing samples and are skipped.

/// A function of `compute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The total.
    Sum,
    /// The mean.
    Avg,
    /// The standard deviation (of the population).
    Sd,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The variance (of the population).
    Variance,
}

impl Function {
    /// The function a script names (`"sum"`, `"avg"`, ...).
    pub fn parse(name: &[u8]) -> Option<Function> {
        Some(match name {
            b"sum" => Function::Sum,
            b"avg" => Function::Avg,
            b"sd" => Function::Sd,
            b"min" => Function::Min,
            b"max" => Function::Max,
            b"variance" => Function::Variance,
            _ => return None,
        })
    }
}

/// `function` over the non-NaN `values`, and how many there were. With no samples the
/// sum is 0 and every other result NaN. Variance and standard deviation are of the
/// population (divided by the number of samples).
pub fn compute(function: Function, values: &[f64]) -> (f64, usize) {
    let samples: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = samples.len();
    let sum: f64 = samples.iter().sum();
    if n == 0 {
        let empty = match function {
            Function::Sum => 0.0,
            _ => f64::NAN,
        };
        return (empty, 0);
    }
    let mean = sum / n as f64;
    let variance = || samples.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    let value = match function {
        Function::Sum => sum,
        Function::Avg => mean,
        Function::Variance => variance(),
        Function::Sd => variance().sqrt(),
        Function::Min => samples.iter().copied().fold(f64::INFINITY, f64::min),
        Function::Max => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    (value, n)
}

/// The Mann-Whitney U test of two samples (NaN values skipped), by the normal
/// approximation with the tie correction: the smaller of the two U statistics and the
/// one-sided p-value, with Yates' continuity correction of 0.5 when `continuity` is set.
/// NaN for both when a sample is empty or every value is tied.
pub fn mann_whitney_u(x: &[f64], y: &[f64], continuity: bool) -> (f64, f64) {
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| (v, true))
        .chain(y.iter().filter(|v| !v.is_nan()).map(|&v| (v, false)))
        .collect();
    let n1 = all.iter().filter(|(_, first)| *first).count() as f64;
    let n2 = all.len() as f64 - n1;
    if n1 == 0.0 || n2 == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Ranks from 1, ties sharing their average rank; `ties` sums t^3 - t per tie group.
    let (mut rank_sum, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|(v, _)| *v == all[i].0).count();
        let rank = (i + 1 + j) as f64 / 2.0;
        let in_first = all[i..j].iter().filter(|(_, first)| *first).count();
        rank_sum += rank * in_first as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u1 = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let (small, big) = (u1.min(u2), u1.max(u2));
    let n = n1 + n2;
    let tie_factor = 1.0 - ties / (n * n * n - n);
    let sd = (tie_factor * n1 * n2 * (n + 1.0) / 12.0).sqrt();
    if sd == 0.0 || sd.is_nan() {
        return (small, f64::NAN);
    }
    let correction = if continuity { 0.5 } else { 0.0 };
    let z = ((big - correction - n1 * n2 / 2.0) / sd).abs();
    (small, 0.5 * erfc(z / std::f64::consts::SQRT_2))
}

/// The complementary error function (std has none on stable Rust): the Maclaurin series
/// of erf below 2, a continued fraction (evaluated by Lentz's method) above; both good
/// to about 1e-14 relative.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        return 1.0 - erf_series(x);
    }
    if x > 27.0 {
        return 0.0;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

/// erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
fn erf_series(x: f64) -> f64 {
    let mut term = x; // (-1)^n x^(2n+1) / n!
    let mut sum = x;
    for n in 1..200 {
        term *= -x * x / n as f64;
        let add = term / (2 * n + 1) as f64;
        sum += add;
        if add.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    #[test]
    fn erfc_matches_known_values() {
        // Values from Python's math.erfc.
        let known = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (1.9, 0.0072095707647425325),
            (2.0, 0.004677734981047265),
            (3.0, 2.2090496998585438e-05),
            (5.0, 1.5374597944280351e-12),
            (-1.0, 1.842700792949715),
        ];
        for (x, want) in known {
            assert!(close(erfc(x), want, 1e-12), "erfc({x}) = {}", erfc(x));
        }
        assert_eq!(erfc(30.0), 0.0);
    }

    #[test]
    fn compute_skips_nan() {
        let v = [1.0, f64::NAN, 3.0, 4.0, 2.0];
        assert_eq!(compute(Function::Sum, &v), (10.0, 4));
        assert_eq!(compute(Function::Avg, &v), (2.5, 4));
        assert_eq!(compute(Function::Min, &v), (1.0, 4));
        assert_eq!(compute(Function::Max, &v), (4.0, 4));
        assert_eq!(compute(Function::Variance, &v), (1.25, 4));
        assert_eq!(compute(Function::Sd, &v), (1.25f64.sqrt(), 4));
        assert_eq!(compute(Function::Sum, &[f64::NAN]), (0.0, 0));
        assert!(compute(Function::Avg, &[]).0.is_nan());
    }

    #[test]
    fn mann_whitney_u_matches_a_hand_computation() {
        // x = 1 2 3 4, y = 3 5 6 7 8: ranks 1 2 3.5 5 | 3.5 6 7 8 9, R1 = 11.5,
        // U1 = 11.5 - 10 = 1.5, U2 = 20 - 1.5 = 18.5; one tie pair: T = 1 - 6/720;
        // sd = sqrt(T * 20 * 10 / 12); z = (18.5 - 0.5 - 10) / sd;
        // p = 0.5 * erfc(z / sqrt 2) = 0.024545... (Python: math.erfc).
        let x = [1.0, 2.0, 3.0, 4.0, f64::NAN];
        let y = [3.0, 5.0, 6.0, 7.0, 8.0];
        let (u, p) = mann_whitney_u(&x, &y, true);
        assert_eq!(u, 1.5);
        assert!(close(p, 0.02454505816130382, 1e-12), "p = {p}");
        let (u, p) = mann_whitney_u(&y, &x, false);
        assert_eq!(u, 1.5);
        assert!(close(p, 0.01827317036566787, 1e-12), "p = {p}");
        assert!(mann_whitney_u(&x, &[], true).1.is_nan());
        assert!(mann_whitney_u(&[1.0], &[1.0], true).1.is_nan());
    }
}
