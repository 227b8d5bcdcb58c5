//! Unix signals (§4.1): SIGINT/SIGTERM start a graceful shutdown, SIGHUP asks file
//! outputs to reopen, SIGUSR1 prints the text report to stderr.

use super::shutdown::Control;
use super::stats::StatsRegistry;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

/// Global values shown in the report's Globals section.
pub type GlobalsReport = Box<dyn Fn() -> Vec<(String, Vec<(&'static str, u64)>)> + Send>;

/// Starts the signal thread.
pub fn spawn(
    control: Control,
    stats: StatsRegistry,
    globals: GlobalsReport,
) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new()
        .name("hekad-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGINT | SIGTERM => {
                        log::info!("Shutdown initiated by signal {signal}.");
                        control.shutdown(false);
                    }
                    SIGHUP => {
                        log::info!("Reload initiated (SIGHUP): file outputs reopen their files.");
                        control.request_reopen();
                    }
                    SIGUSR1 => eprint!("{}", stats.text_report(&globals())),
                    _ => {}
                }
            }
        })?;
    Ok(())
}
