//! # Civil dates and times in UTC
//!
//! Release end-of-life dates, generation dates and file times are shown in
//! UTC; this is the one conversion from seconds since the epoch for all of
//! tabula (Howard Hinnant's `civil_from_days`), so no crate needs a date
//! library for it.

/// A civil date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.splitn(3, '-');
        Some(Date {
            year: it.next()?.parse().ok()?,
            month: it.next()?.parse().ok()?,
            day: it.next()?.parse().ok()?,
        })
    }
}

/// Seconds since the epoch as a UTC date and the seconds into that day.
pub fn civil(secs: i64) -> (Date, u32) {
    let day = Date::from_days(secs.div_euclid(86_400));
    (day, u32::try_from(secs.rem_euclid(86_400)).unwrap_or(0))
}

/// `YYYY-MM-DD{sep}HH:MM:SS` for seconds since the epoch (UTC).
pub fn format_utc(secs: i64, sep: char) -> String {
    let (d, rem) = civil(secs);
    format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(format_utc(0, 'T'), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400, ' '), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_795_621_572, 'T'), "2026-11-25T15:46:12");
        assert_eq!(format_utc(-1, ' '), "1969-12-31 23:59:59");
        assert_eq!(
            Date::parse("2025-06-30"),
            Some(Date {
                year: 2025,
                month: 6,
                day: 30
            })
        );
    }
}
