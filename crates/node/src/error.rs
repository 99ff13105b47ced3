//! The one error type of node physics: a parameter outside its valid range.

/// A parameter that cannot describe a real node. `field` is spelt as the CLI flag
/// (`cell-efficiency`), so the message points the user at what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {field} {value}: expected {expected}")]
pub struct ParamError {
    pub field: &'static str,
    pub value: String,
    pub expected: String,
}

impl ParamError {
    pub fn new(field: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        ParamError {
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// A finite value > 0.
pub fn positive(field: &'static str, v: f64) -> Result<f64, ParamError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ParamError::new(field, v, "a finite number > 0"))
    }
}

/// A finite value >= 0.
pub fn non_negative(field: &'static str, v: f64) -> Result<f64, ParamError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(ParamError::new(field, v, "a finite number >= 0"))
    }
}

/// A fraction in (0, 1]: efficiencies, depth of discharge, packing factor.
pub fn unit_fraction(field: &'static str, v: f64) -> Result<f64, ParamError> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(ParamError::new(field, v, "a fraction in (0, 1]"))
    }
}

/// A fraction in [0, 1): degradation per year, mass fractions.
pub fn proper_fraction(field: &'static str, v: f64) -> Result<f64, ParamError> {
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(ParamError::new(field, v, "a fraction in [0, 1)"))
    }
}

/// A value inside `lo..=hi`.
pub fn within(field: &'static str, v: f64, lo: f64, hi: f64) -> Result<f64, ParamError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(ParamError::new(
            field,
            v,
            format!("a number within {lo}..={hi}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_value_and_range() {
        let e = unit_fraction("cell-efficiency", 1.2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cell-efficiency 1.2: expected a fraction in (0, 1]"
        );
        assert!(positive("array-area-m2", -3.0).is_err());
        assert!(positive("array-area-m2", f64::NAN).is_err());
        assert_eq!(non_negative("bus-power-w", 0.0), Ok(0.0));
        assert!(proper_fraction("structure-fraction", 1.0).is_err());
        assert!(within("temp", 5.0, 0.0, 4.0).is_err());
    }
}
