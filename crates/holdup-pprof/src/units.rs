//! Value formatting as pprof prints it: unit scaling (`ns` → `ms`), labels such as `270.22ms`,
//! percentages, and UTC times.

struct Unit {
    name: &'static str,
    aliases: &'static [&'static str],
    factor: f64,
}

struct UnitType {
    units: &'static [Unit],
    default: (&'static str, f64),
}

const UNIT_TYPES: &[UnitType] = &[
    UnitType {
        units: &[
            Unit {
                name: "B",
                aliases: &["b", "byte"],
                factor: 1.0,
            },
            Unit {
                name: "kB",
                aliases: &["kb", "kbyte", "kilobyte"],
                factor: 1024.0,
            },
            Unit {
                name: "MB",
                aliases: &["mb", "mbyte", "megabyte"],
                factor: 1048576.0,
            },
            Unit {
                name: "GB",
                aliases: &["gb", "gbyte", "gigabyte"],
                factor: 1073741824.0,
            },
            Unit {
                name: "TB",
                aliases: &["tb", "tbyte", "terabyte"],
                factor: 1099511627776.0,
            },
            Unit {
                name: "PB",
                aliases: &["pb", "pbyte", "petabyte"],
                factor: 1125899906842624.0,
            },
        ],
        default: ("B", 1.0),
    },
    UnitType {
        units: &[
            Unit {
                name: "ns",
                aliases: &["ns", "nanosecond"],
                factor: 1.0,
            },
            Unit {
                name: "us",
                aliases: &["μs", "us", "microsecond"],
                factor: 1e3,
            },
            Unit {
                name: "ms",
                aliases: &["ms", "millisecond"],
                factor: 1e6,
            },
            Unit {
                name: "s",
                aliases: &["s", "sec", "second"],
                factor: 1e9,
            },
            Unit {
                name: "hrs",
                aliases: &["hour", "hr"],
                factor: 3600e9,
            },
        ],
        default: ("s", 1e9),
    },
];

fn sniff(ut: &UnitType, unit: &str) -> Option<&'static Unit> {
    let mut unit = unit.to_lowercase();
    if unit.chars().count() > 2 && unit.ends_with('s') {
        unit.pop();
    }
    ut.units.iter().find(|u| u.aliases.contains(&unit.as_str()))
}

/// Converts `value` in `from` units to `to` units (`"minimum"`/`"auto"` pick the largest unit in
/// which the value is at least 1). Returns the scaled value and the unit's name, empty for plain
/// counts.
pub(crate) fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    if value < 0 && value != i64::MIN {
        let (v, u) = scale(-value, from, to);
        return (-v, u);
    }
    for ut in UNIT_TYPES {
        let Some(from_unit) = sniff(ut, from) else {
            continue;
        };
        let v = value as f64 * from_unit.factor;
        if to == "minimum" || to == "auto" {
            let mut best: Option<&Unit> = None;
            for u in ut.units {
                if best.is_none_or(|b| u.factor >= b.factor) && v / u.factor >= 1.0 {
                    best = Some(u);
                }
            }
            return match best {
                Some(u) => (v / u.factor, u.name.to_owned()),
                None => (v / ut.default.1, ut.default.0.to_owned()),
            };
        }
        return match sniff(ut, to) {
            Some(u) => (v / u.factor, u.name.to_owned()),
            None => (v / ut.default.1, ut.default.0.to_owned()),
        };
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_owned()),
    }
}

/// `value` (in `from` units) as pprof labels it in `to` units: two decimals, `.00` dropped.
pub(crate) fn scaled_label(value: i64, from: &str, to: &str) -> String {
    let (v, unit) = scale(value, from, to);
    let s = format!("{v:.2}");
    let s = s.strip_suffix(".00").unwrap_or(&s);
    if s == "0" || s == "-0" {
        "0".to_owned()
    } else {
        format!("{s}{unit}")
    }
}

/// `value` as a percentage of `total`, six characters wide, as pprof prints it.
pub(crate) fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 {
        (value as f64 / total as f64).abs() * 100.0
    } else {
        0.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".to_owned()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", format_g2(ratio))
    }
}

/// Go's `%.2g`: two significant digits, trailing zeros removed, exponent form for tiny values.
fn format_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let exp = v.abs().log10().floor() as i32;
    // Round to two significant digits first; rounding can carry into the next decade.
    let rounded: f64 = format!("{v:.1e}").parse().unwrap_or(v);
    let exp = if rounded.abs() >= 10f64.powi(exp + 1) {
        exp + 1
    } else {
        exp
    };
    if !(-4..2).contains(&exp) {
        let s = format!("{rounded:.1e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", e.abs());
    }
    let decimals = (1 - exp).max(0) as usize;
    let s = format!("{rounded:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Nanoseconds since the Unix epoch as `2006-01-02 15:04:05 UTC`.
pub(crate) fn format_utc(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_pprof() {
        assert_eq!(scaled_label(270_217_097, "nanoseconds", "ms"), "270.22ms");
        assert_eq!(scaled_label(600_000_000, "nanoseconds", "ms"), "600ms");
        assert_eq!(scaled_label(100, "nanoseconds", "auto"), "100ns");
        assert_eq!(scaled_label(0, "nanoseconds", "ms"), "0");
        assert_eq!(scaled_label(55, "count", "minimum"), "55");
        assert_eq!(scaled_label(1536, "bytes", "auto"), "1.50kB");
        assert_eq!(scaled_label(-2_500_000_000, "nanoseconds", "s"), "-2.50s");
    }

    #[test]
    fn percentages_match_pprof() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(1, 2), "50.00%");
        assert_eq!(percentage(0, 2), "    0%");
        assert_eq!(percentage(1, 200), "  0.5%");
        assert_eq!(percentage(123, 100_000), " 0.12%");
        assert_eq!(percentage(1, 10_000_000), "1e-05%");
        assert_eq!(percentage(996, 100_000), "    1%");
    }

    #[test]
    fn utc_times() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            format_utc(1_795_000_000_123_456_789),
            "2026-11-18 11:06:40 UTC"
        );
    }
}
