//! Parses the `ttl` option: milliseconds, or a string such as `'1h'`, `'30 min'`, `'1.5d'`
//! (the units of the `ms` package that Vendure uses for `sessionDuration`).

/// Milliseconds in a duration string, or a message naming what is wrong with it.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let amount: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' does not start with a number (try '30m', '1h' or '2d')"))?;
    let unit_ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600_000.0,
        other => {
            return Err(format!(
                "'{text}' has an unknown unit '{other}' (use ms, s, m, h, d, w or y)"
            ))
        }
    };
    let ms = (amount * unit_ms).round();
    if !(1.0..=1e15).contains(&ms) {
        return Err(format!(
            "'{text}' must be at least 1 ms and at most about 30,000 years"
        ));
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn parses_units_like_the_ms_package() {
        assert_eq!(parse_duration_ms("1500"), Ok(1500));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("30 min"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("1.5H"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("2d"), Ok(172_800_000));
        assert_eq!(parse_duration_ms(" 1 week "), Ok(604_800_000));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "h",
            "-1h",
            "1 fortnight",
            "0",
            "0.1ms",
            "1e400",
            "1..2s",
            "NaN",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
