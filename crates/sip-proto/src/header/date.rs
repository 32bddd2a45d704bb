//! The Date header (RFC 3261 §20.17): RFC 1123 dates, GMT only
//! (`Mon, 30 Mar 2020 11:03:19 GMT`).

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A Date value (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SipDate {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60.
    pub second: u8,
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl SipDate {
    /// The date `secs` seconds after the Unix epoch (years past 9999 are clamped).
    pub fn from_unix(secs: u64) -> SipDate {
        let secs = secs.min(253_402_300_799); // 9999-12-31 23:59:59
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        SipDate {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Seconds since the Unix epoch (0 for dates before it).
    pub fn to_unix(&self) -> u64 {
        let days = days_from_civil(self.year.into(), self.month.into(), self.day.into());
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        u64::try_from(secs).unwrap_or(0)
    }

    /// Parses an RFC 1123 date in GMT.
    pub fn parse(v: &str) -> Result<SipDate, ParseError> {
        parse_date(v)
            .ok_or_else(|| ParseErrorKind::header("Date", "not an RFC 1123 date in GMT").into())
    }
}

impl fmt::Display for SipDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = days_from_civil(self.year.into(), self.month.into(), self.day.into());
        let wd = DAYS
            .get((days + 3).rem_euclid(7) as usize)
            .unwrap_or(&"Mon");
        let mon = MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .unwrap_or(&"Jan");
        write!(
            f,
            "{wd}, {:02} {mon} {:04} {:02}:{:02}:{:02} GMT",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

fn parse_date(v: &str) -> Option<SipDate> {
    let (wd, rest) = v.split_once(", ")?;
    if !DAYS.contains(&wd) {
        return None;
    }
    let mut it = rest.split(' ');
    let (day, mon, year, time, zone) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let num = |s: &str| -> Option<u16> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let month = MONTHS.iter().position(|m| *m == mon)? as u8 + 1;
    let mut t = time.split(':');
    let (h, m, s) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || [h, m, s].iter().any(|x| x.len() != 2) {
        return None;
    }
    let d = SipDate {
        year: num(year)?,
        month,
        day: u8::try_from(num(day)?).ok()?,
        hour: u8::try_from(num(h)?).ok()?,
        minute: u8::try_from(num(m)?).ok()?,
        second: u8::try_from(num(s)?).ok()?,
    };
    let valid = (1..=31).contains(&d.day) && d.hour < 24 && d.minute < 60 && d.second <= 60;
    valid.then_some(d)
}

impl Headers {
    /// Date, if present.
    pub fn date(&self) -> Result<Option<SipDate>, ParseError> {
        self.single("Date")?.map(SipDate::parse).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print() {
        let d = parse_date("Mon, 30 Mar 2020 11:03:19 GMT").unwrap();
        assert_eq!(d.to_string(), "Mon, 30 Mar 2020 11:03:19 GMT");
        assert_eq!(SipDate::from_unix(d.to_unix()), d);
        assert_eq!(
            SipDate::from_unix(0).to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            SipDate::from_unix(1_533_272_418).to_string(),
            "Fri, 03 Aug 2018 05:00:18 GMT"
        );
        assert!(parse_date("Fri, 01 Jan 2010 16:00:00 EST").is_none());
        assert!(parse_date("Fri, 1 Jan 2010 16:00:00 GMT").is_none());
        assert!(parse_date("Fri, 01 Foo 2010 16:00:00 GMT").is_none());
        assert!(parse_date("Fri, 01 Jan 2010 24:00:00 GMT").is_none());
        assert_eq!(SipDate::from_unix(u64::MAX).year, 9999);
    }
}
