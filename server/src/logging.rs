//! Log lines in Redis's format: `<pid>:M 22 Nov 2026 01:58:31.123 * message`, with Redis's
//! level marks (`.` debug, `-` verbose, `*` notice, `#` warning), to stdout or `logfile`.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{filter::LevelFilter, prelude::*, reload};

/// The tracing level of a Redis `loglevel`.
pub fn level_of(loglevel: &str) -> LevelFilter {
    match loglevel {
        "debug" => LevelFilter::TRACE,
        "verbose" => LevelFilter::DEBUG,
        "notice" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::OFF,
    }
}

struct RedisFormat {
    pid: u32,
    role: char,
}

/// Civil date (UTC) of a unix day number (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `22 Nov 2026 01:58:31.123` for a unix time in milliseconds.
pub fn redis_time(unix_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = (unix_ms / 1000) as i64;
    let (y, m, d) = civil(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        unix_ms % 1000
    )
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mark = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        write!(
            w,
            "{}:{} {} {} ",
            self.pid,
            self.role,
            redis_time(now),
            mark
        )?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// A handle to change the level at run time (CONFIG SET loglevel).
pub type LevelHandle = reload::Handle<LevelFilter, tracing_subscriber::Registry>;

/// Install the global subscriber. `logfile` empty means stdout.
pub fn init(loglevel: &str, logfile: &str, role: char) -> io::Result<LevelHandle> {
    let (filter, handle) = reload::Layer::new(level_of(loglevel));
    let fmt = RedisFormat {
        pid: std::process::id(),
        role,
    };
    if logfile.is_empty() {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(fmt)
            .with_writer(io::stdout);
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init();
    } else {
        let file = OpenOptions::new().create(true).append(true).open(logfile)?;
        let layer = tracing_subscriber::fmt::layer()
            .event_format(fmt)
            .with_writer(Mutex::new(file));
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init();
    }
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_redis_logs() {
        assert_eq!(redis_time(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(redis_time(1_795_312_994_498), "22 Nov 2026 02:03:14.498");
        assert_eq!(redis_time(951_782_400_000), "29 Feb 2000 00:00:00.000");
    }
}
