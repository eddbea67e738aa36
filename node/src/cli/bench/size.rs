//! `lapor bench size`: the size of this `lapor` binary beside the 30 MB budget (DESIGN section 7). A debug
//! build is far larger than a release build; the line says which one ran.

use super::{budget_line, Budget};

/// Runs the part.
pub fn run() -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let bytes = std::fs::metadata(&exe)?.len();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let build = if cfg!(debug_assertions) {
        "debug build (a release build is what the budget is about)"
    } else {
        "release build"
    };
    budget_line(
        "size.binary",
        mib,
        30.0,
        "MiB",
        Budget::AtMost(30.0),
        &format!(
            "{bytes} bytes, {build}, {}; limit: the budget",
            exe.display()
        ),
    );
    Ok(())
}
