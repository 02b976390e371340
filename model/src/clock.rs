//! The platform's calendar. werkbrug serves Amsterdam: "today" — for eligibility, the end of
//! a placement, a consent's expiry date or a register entry's validity — is the date on the
//! wall in Amsterdam, not in UTC (which is still yesterday between midnight and 01:00/02:00).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The time zone whose calendar decides dates (Europe/Amsterdam).
pub const TIME_ZONE: Tz = chrono_tz::Europe::Amsterdam;

/// Today's date in Amsterdam.
pub fn today() -> NaiveDate {
    date_at(Utc::now())
}

/// The Amsterdam date at the instant `now`.
pub fn date_at(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&TIME_ZONE).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDate {
        date_at(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn amsterdam_midnight_starts_the_day() {
        // Winter (UTC+1) and summer (UTC+2): past midnight in Amsterdam is the next day.
        assert_eq!(at("2026-11-27T23:30:00Z").to_string(), "2026-11-28");
        assert_eq!(at("2026-11-27T22:59:59Z").to_string(), "2026-11-27");
        assert_eq!(at("2026-07-01T22:30:00Z").to_string(), "2026-07-02");
        assert_eq!(at("2026-07-01T21:59:59Z").to_string(), "2026-07-01");
    }
}
