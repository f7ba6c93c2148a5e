//! Progress bars on stderr (issue 16): the binaries hand a
//! [`ProgressHandle`] to the libraries, which report bytes; this renders
//! them with indicatif as bytes, rate and ETA. A bar fits the terminal's
//! width (a narrow terminal gets a shorter line, never a wrapped one) and
//! is cleared when the work ends.

use std::sync::{Arc, Mutex};

use ferry_durable::progress::{Progress, ProgressHandle};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One bar at a time, created when a job starts.
#[derive(Default)]
pub struct Bar {
    current: Mutex<Option<ProgressBar>>,
}

impl Bar {
    /// A handle drawing on stderr.
    #[must_use]
    pub fn handle() -> ProgressHandle {
        ProgressHandle::new(Arc::new(Bar::default()))
    }
}

/// The template for a terminal `width` columns wide: every fixed part
/// counted, so the line never wraps (issue 16).
#[must_use]
pub fn template(width: u16, total_known: bool) -> &'static str {
    match (total_known, width) {
        (false, 0..40) => "{spinner} {binary_bytes}",
        (false, _) => "{prefix} {spinner} {binary_bytes} {binary_bytes_per_sec}",
        (true, 0..24) => "{percent:>3}% eta {eta}",
        (true, 24..48) => "{percent:>3}% {binary_bytes} eta {eta}",
        (true, 48..72) => "{prefix} {percent:>3}% {binary_bytes}/{binary_total_bytes} eta {eta}",
        (true, _) => {
            "{prefix} {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}"
        }
    }
}

fn width() -> u16 {
    match console::Term::stderr().size_checked() {
        Some((_, w)) if w > 0 => w,
        _ => 80,
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total_bytes: u64) {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(template(width(), total_bytes > 0))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(crate::terminal_safe(what));
        if total_bytes == 0 {
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        bar.tick();
        if let Ok(mut cur) = self.current.lock()
            && let Some(old) = cur.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(cur) = self.current.lock()
            && let Some(b) = cur.as_ref()
        {
            b.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Ok(mut cur) = self.current.lock()
            && let Some(b) = cur.take()
        {
            b.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    /// The longest each fixed part can be (prefix `index build`, sizes
    /// like `1023.99 MiB`, a rate, an ETA like `59m`): the line fits.
    #[test]
    fn templates_fit_their_width() {
        let sizes = |t: &str| {
            t.replace("{prefix}", "index build")
                .replace("{wide_bar}", "=")
                .replace("{spinner}", "-")
                .replace("{percent:>3}", "100")
                .replace("{binary_bytes_per_sec}", "1023.99 MiB/s")
                .replace("{binary_bytes}", "1023.99 MiB")
                .replace("{binary_total_bytes}", "1023.99 GiB")
                .replace("{eta}", "59m")
                .chars()
                .count()
        };
        for w in [20u16, 24, 40, 48, 60, 72, 80, 200] {
            for known in [true, false] {
                let t = template(w, known);
                let need = sizes(t);
                assert!(
                    need <= usize::from(w.max(20)),
                    "{t} needs {need} columns, has {w}"
                );
            }
        }
    }
}
